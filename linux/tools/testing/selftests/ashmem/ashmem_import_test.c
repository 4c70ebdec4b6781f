// SPDX-License-Identifier: GPL-2.0
/*
 * Regions and memfds handed to a driver, as apps hand buffers to camera
 * and codec drivers: /dev/ashmem_import (samples/rust/rust_ashmem_import.rs)
 * takes an ashmem fd or a memfd, recognises what it is, and keeps it after
 * the app closed its descriptor. It pins their pages from the kernel, which
 * purges must spare while userspace sees its own pins only, and reads and
 * writes them. Needs both sample drivers and root.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "ashmem_util.h"
#include "ashmem_import.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define POISON 0xa5a5a5a5a5a5a5a5ULL

static long page;

FIXTURE(import) {
	int dev;
	int ashmem;
};

FIXTURE_SETUP(import)
{
	page = sysconf(_SC_PAGESIZE);
	self->dev = open(IMPORT_DEV, O_RDWR);
	ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", IMPORT_DEV, strerror(errno));
	self->ashmem = open(ASHMEM_DEV, O_RDWR);
	ASSERT_LE(0, self->ashmem) TH_LOG("open %s: %s", ASHMEM_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(import)
{
	close(self->ashmem);
	close(self->dev);
}

/* ASHMEM_IMPORT of 'fd' into 'out'; 0 or -errno. */
static long import_fd(int dev, int fd, struct ashmem_import *out)
{
	memset(out, 0xa5, sizeof(*out));
	out->fd = fd;
	return ash(dev, ASHMEM_IMPORT, (unsigned long)out);
}

static long info(int dev, uint32_t handle, struct ashmem_import *out)
{
	memset(out, 0xa5, sizeof(*out));
	out->handle = handle;
	return ash(dev, ASHMEM_IMPORT_INFO, (unsigned long)out);
}

/* ASHMEM_IMPORT_PIN of 'len' bytes (0: to the end) from 'offset'; 0 or -errno. */
static long kpin(int dev, uint32_t handle, uint64_t offset, uint64_t len,
		 struct ashmem_import_pin *out)
{
	memset(out, 0xa5, sizeof(*out));
	out->handle = handle;
	out->offset = offset;
	out->len = len;
	out->pad = 0;
	return ash(dev, ASHMEM_IMPORT_PIN, (unsigned long)out);
}

static long kunpin(int dev, uint32_t pin)
{
	return ash(dev, ASHMEM_IMPORT_UNPIN, (unsigned long)&pin);
}

static long release(int dev, uint32_t handle)
{
	return ash(dev, ASHMEM_IMPORT_RELEASE, (unsigned long)&handle);
}

/* ASHMEM_IMPORT_CHECKSUM of bytes of a pin into 'sum'; 0 or -errno. */
static long checksum(int dev, uint32_t pin, uint64_t offset, uint64_t len, uint64_t *sum)
{
	struct ashmem_import_io io = {
		.pin = pin, .offset = offset, .len = len, .sum = POISON,
	};
	long ret = ash(dev, ASHMEM_IMPORT_CHECKSUM, (unsigned long)&io);

	*sum = io.sum;
	return ret;
}

static long fill(int dev, uint32_t pin, uint64_t offset, uint64_t len, uint32_t pattern)
{
	struct ashmem_import_io io = {
		.pin = pin, .pattern = pattern, .offset = offset, .len = len, .sum = POISON,
	};

	return ash(dev, ASHMEM_IMPORT_FILL, (unsigned long)&io);
}

/* Bytes that differ from page to page and from 'seed' to 'seed'; no page is all zeros. */
static void pattern(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = seed * 0x35 + i * 7 + i / page + 1;
}

static int is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len--)
		if (*p++)
			return 0;
	return 1;
}

/* 'pages' pages of zeroed private memory, or MAP_FAILED. */
static char *scratch(long pages)
{
	return mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Sizes region 'fd' to 'pages' pages and maps it shared and writable. */
static char *map_pages(int fd, long pages)
{
	if (ash(fd, ASHMEM_SET_SIZE, pages * page))
		return MAP_FAILED;
	return mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

/* A memfd of 'pages' pages of pattern(seed), sealed with 'seals'; or -1. */
static int memfd_with(const char *name, long pages, unsigned int seed, int seals)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char *buf = malloc(pages * page);

	if (fd < 0 || !buf || ftruncate(fd, pages * page))
		goto fail;
	pattern(buf, pages * page, seed);
	if (pwrite(fd, buf, pages * page, 0) != pages * page)
		goto fail;
	if (seals && fcntl(fd, F_ADD_SEALS, seals))
		goto fail;
	free(buf);
	return fd;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return -1;
}

static long write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	long ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Reclaim as far as a VM with little memory allows: a child touches 16 MiB
 * and exits, then drop_caches. 0, or -1 if a step failed.
 */
static int squeeze(void)
{
	int status;
	pid_t child = fork();

	if (child < 0)
		return -1;
	if (child == 0)
		_exit(touch_anonymous(16 << 20, page) == MAP_FAILED);
	if (waitpid(child, &status, 0) != child || status)
		return -1;
	return write_file("/proc/sys/vm/drop_caches", "3") ? -1 : 0;
}

TEST_F(import, region_name_and_size)
{
	struct ashmem_import imp;

	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	EXPECT_EQ(self->ashmem, imp.fd);
	EXPECT_EQ(KIND_REGION, imp.kind);
	EXPECT_EQ(0, imp.size);
	EXPECT_STREQ("dev/ashmem", imp.name);

	/* The driver holds the region itself: later changes show. */
	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_NAME, (unsigned long)"camera-buffer"));
	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_SIZE, 3 * page + 1));
	ASSERT_EQ(0, info(self->dev, imp.handle, &imp));
	EXPECT_EQ(KIND_REGION, imp.kind);
	EXPECT_EQ(3 * page + 1, imp.size);
	EXPECT_STREQ("camera-buffer", imp.name);
}

TEST_F(import, memfd_name_and_size)
{
	struct ashmem_import imp;
	int fd = memfd_create("codec-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 5 * page));
	ASSERT_EQ(0, import_fd(self->dev, fd, &imp));
	EXPECT_EQ(KIND_MEMFD, imp.kind);
	EXPECT_EQ(5 * page, imp.size);
	EXPECT_STREQ("codec-frame", imp.name);
	close(fd);
	/* The file stays the driver's after the app closed it. */
	ASSERT_EQ(0, info(self->dev, imp.handle, &imp));
	EXPECT_EQ(KIND_MEMFD, imp.kind);
	EXPECT_EQ(5 * page, imp.size);
}

TEST_F(import, other_files_are_einval)
{
	struct ashmem_import imp;
	int fds[2];
	int tmp = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	int null = open("/dev/null", O_RDWR);

	ASSERT_LE(0, tmp);
	ASSERT_LE(0, null);
	ASSERT_EQ(0, pipe(fds));
	EXPECT_EQ(-EINVAL, import_fd(self->dev, tmp, &imp));	/* tmpfs, not a memfd */
	EXPECT_EQ(-EINVAL, import_fd(self->dev, null, &imp));
	EXPECT_EQ(-EINVAL, import_fd(self->dev, fds[0], &imp));
	/* The import device's own files are not regions either. */
	EXPECT_EQ(-EINVAL, import_fd(self->dev, self->dev, &imp));
	close(fds[0]);
	close(fds[1]);
	close(null);
	close(tmp);
}

TEST_F(import, bad_fds_are_ebadf)
{
	struct ashmem_import imp;
	int fd = dup(self->ashmem);

	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EBADF, import_fd(self->dev, fd, &imp));
	EXPECT_EQ(-EBADF, import_fd(self->dev, -1, &imp));
	EXPECT_EQ(-EBADF, import_fd(self->dev, INT32_MAX, &imp));
	EXPECT_EQ(-EFAULT, ash(self->dev, ASHMEM_IMPORT, 0));
}

TEST_F(import, region_outlives_its_fd_and_mapping)
{
	struct ashmem_import imp;
	char *mem;

	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_NAME, (unsigned long)"kept"));
	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_SIZE, 4 * page));
	mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, self->ashmem, 0);
	ASSERT_TRUE(mem != MAP_FAILED);
	memset(mem, 0x5a, 4 * page);
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	ASSERT_EQ(0, munmap(mem, 4 * page));
	close(self->ashmem);
	self->ashmem = open(ASHMEM_DEV, O_RDWR);	/* for the teardown */
	ASSERT_LE(0, self->ashmem);

	ASSERT_EQ(0, info(self->dev, imp.handle, &imp));
	EXPECT_EQ(KIND_REGION, imp.kind);
	EXPECT_EQ(4 * page, imp.size);
	EXPECT_STREQ("kept", imp.name);
	/* Letting go frees it (kmemleak and KASAN watch the rest). */
	ASSERT_EQ(0, ash(self->dev, ASHMEM_IMPORT_RELEASE, (unsigned long)&imp.handle));
	EXPECT_EQ(-EINVAL, info(self->dev, imp.handle, &imp));
	EXPECT_EQ(-EINVAL, ash(self->dev, ASHMEM_IMPORT_RELEASE, (unsigned long)&imp.handle));
}

TEST_F(import, handles_are_bounded_and_reused)
{
	struct ashmem_import imp;
	uint32_t first;
	int i;

	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp)) TH_LOG("import %d", i);
	EXPECT_EQ(-ENOSPC, import_fd(self->dev, self->ashmem, &imp));
	first = 3;
	ASSERT_EQ(0, ash(self->dev, ASHMEM_IMPORT_RELEASE, (unsigned long)&first));
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	EXPECT_EQ(3, imp.handle);
}

/* The reference values of FNV-1a, so that a mismatch below is the driver's. */
TEST(fnv1a_reference)
{
	EXPECT_EQ(FNV_BASIS, fnv1a("", 0));
	EXPECT_EQ(0xaf63dc4c8601ec8cULL, fnv1a("a", 1));
	EXPECT_EQ(0x85944171f73967e8ULL, fnv1a("foobar", 6));
}

TEST_F(import, region_pin_checksum_and_fill)
{
	struct ashmem_import_pin kp, part;
	struct ashmem_import imp;
	char *mem = map_pages(self->ashmem, 4), *want = scratch(4);
	uint64_t sum;

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_TRUE(want != MAP_FAILED);
	pattern(mem, 4 * page, 1);
	memcpy(want, mem, 4 * page);
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	EXPECT_EQ(0, kp.was_purged);
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(fnv1a(mem, 4 * page), sum);
	/* Any bytes within the pin. */
	ASSERT_EQ(0, checksum(self->dev, kp.pin, page + 3, 17, &sum));
	EXPECT_EQ(fnv1a(mem + page + 3, 17), sum);
	/* Offsets count from the start of the pin. */
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 2 * page, page, &part));
	EXPECT_EQ(0, part.was_purged);
	EXPECT_NE(kp.pin, part.pin);
	ASSERT_EQ(0, checksum(self->dev, part.pin, 0, page, &sum));
	EXPECT_EQ(fnv1a(mem + 2 * page, page), sum);

	/* Across the boundary of pages 1 and 2; the pattern's low byte only. */
	ASSERT_EQ(0, fill(self->dev, kp.pin, 2 * page - 100, 200, 0x1c3));
	memset(want + 2 * page - 100, 0xc3, 200);
	EXPECT_EQ(0, memcmp(want, mem, 4 * page));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(fnv1a(want, 4 * page), sum);
	ASSERT_EQ(0, checksum(self->dev, part.pin, 0, page, &sum));
	EXPECT_EQ(fnv1a(want + 2 * page, page), sum);
	/* And what userspace writes, the kernel reads. */
	memset(mem + 3 * page, 'u', page);
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 3 * page, page, &sum));
	EXPECT_EQ(fnv1a(mem + 3 * page, page), sum);

	EXPECT_EQ(0, kunpin(self->dev, part.pin));
	EXPECT_EQ(0, kunpin(self->dev, kp.pin));
	EXPECT_EQ(0, release(self->dev, imp.handle));
	munmap(want, 4 * page);
	munmap(mem, 4 * page);
}

TEST_F(import, pin_and_io_errors)
{
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	char *mem, *last = scratch(1);
	uint64_t sum;

	ASSERT_TRUE(last != MAP_FAILED);
	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_SIZE, 3 * page + 1));
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	/* No backing before the first mmap. */
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, 0, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, page, &kp));
	mem = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, self->ashmem, 0);
	ASSERT_TRUE(mem != MAP_FAILED);
	memset(mem, 'e', 3 * page + 1);

	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 1, page, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, page / 2, page, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, page + 1, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, 1, &kp));
	/* The page-aligned size is 4 pages. */
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, 5 * page, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 3 * page, 2 * page, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 4 * page, page, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 4 * page, 0, &kp));	/* empty */
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 5 * page, 0, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, -(uint64_t)page, 2 * page, &kp));
	/* Handles never given. */
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle + 1, 0, 0, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, UINT32_MAX, 0, 0, &kp));

	/* The partial last page is pinned whole. */
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 3 * page, 0, &kp));
	EXPECT_EQ(0, kp.was_purged);
	last[0] = 'e';
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, page, &sum));
	EXPECT_EQ(fnv1a(last, page), sum);
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin, 0, page + 1, &sum));
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin, 1, page, &sum));
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin, page, 1, &sum));
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin, UINT64_MAX, 2, &sum));
	EXPECT_EQ(-EINVAL, fill(self->dev, kp.pin, page - 1, 2, 'x'));
	EXPECT_EQ(-EINVAL, fill(self->dev, kp.pin, 1, UINT64_MAX, 'x'));
	/* Nothing was written. */
	EXPECT_EQ('e', mem[3 * page]);
	EXPECT_EQ(0, mem[4 * page - 1]);
	/* Pins never given: the only pin of this file is kp.pin. */
	EXPECT_EQ(-EINVAL, kunpin(self->dev, kp.pin + 1));
	EXPECT_EQ(-EINVAL, kunpin(self->dev, UINT32_MAX));
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin + 1, 0, 1, &sum));
	EXPECT_EQ(-EINVAL, checksum(self->dev, UINT32_MAX, 0, 1, &sum));
	EXPECT_EQ(-EINVAL, fill(self->dev, UINT32_MAX, 0, 1, 'x'));
	/* Bad pointers. */
	EXPECT_EQ(-EFAULT, ash(self->dev, ASHMEM_IMPORT_PIN, 0));
	EXPECT_EQ(-EFAULT, ash(self->dev, ASHMEM_IMPORT_UNPIN, 0));
	EXPECT_EQ(-EFAULT, ash(self->dev, ASHMEM_IMPORT_CHECKSUM, 0));
	EXPECT_EQ(-EFAULT, ash(self->dev, ASHMEM_IMPORT_FILL, 0));

	/* An unpinned pin and a released handle are gone. */
	ASSERT_EQ(0, kunpin(self->dev, kp.pin));
	EXPECT_EQ(-EINVAL, kunpin(self->dev, kp.pin));
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin, 0, 1, &sum));
	EXPECT_EQ(-EINVAL, fill(self->dev, kp.pin, 0, 1, 'x'));
	ASSERT_EQ(0, release(self->dev, imp.handle));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, 0, &kp));
	munmap(last, page);
	munmap(mem, 4 * page);
}

/*
 * Pages the kernel holds survive the purges of ASHMEM_PURGE_ALL_CACHES and of
 * the shrinker, while userspace still sees them unpinned; let go, they are
 * purgeable again.
 */
TEST_F(import, held_pages_survive_purges)
{
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	char *mem = map_pages(self->ashmem, 6);
	int fd = self->ashmem, i;
	uint64_t want, sum;

	ASSERT_TRUE(mem != MAP_FAILED);
	pattern(mem, 6 * page, 3);
	want = fnv1a(mem, 2 * page);
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, 4 * page));
	ASSERT_EQ(0, import_fd(self->dev, fd, &imp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 2 * page, &kp));
	EXPECT_EQ(0, kp.was_purged);
	/* Nothing else in the test system unpins: pages 2 and 3 only. */
	EXPECT_EQ(2, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(0, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	/* The shrinker takes pages 4 and 5, and not the held ones. */
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 4 * page, 0));
	ASSERT_EQ(0, write_file("/proc/sys/vm/drop_caches", "2"));
	EXPECT_EQ(0, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, squeeze());

	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(want, sum);
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 0, page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, page, page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, 2 * page));
	EXPECT_EQ(want, fnv1a(mem, 2 * page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, 2 * page, 2 * page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, 4 * page, 0));
	EXPECT_TRUE(is_zero(mem + 2 * page, 4 * page));

	/* Unpinned again and still held: nothing to purge. */
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, 2 * page));
	EXPECT_EQ(0, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(want, sum);
	/* Let go: purgeable again, and the next pin says so. */
	ASSERT_EQ(0, kunpin(self->dev, kp.pin));
	EXPECT_EQ(2, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 0, 2 * page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, 0, 2 * page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, 0));
	EXPECT_TRUE(is_zero(mem, 2 * page));
	munmap(mem, 6 * page);
}

/* A kernel pin over purged pages reports it, and leaves userspace's report alone. */
TEST_F(import, kernel_pin_over_purged_pages)
{
	struct ashmem_import_pin kp, again, head, tail;
	struct ashmem_import imp;
	char *mem = map_pages(self->ashmem, 4), *zeros = scratch(2);
	int fd = self->ashmem;
	uint64_t sum;

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_TRUE(zeros != MAP_FAILED);
	memset(mem, 'd', 4 * page);
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, page, 2 * page));
	ASSERT_EQ(2, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	ASSERT_EQ(0, import_fd(self->dev, fd, &imp));

	ASSERT_EQ(0, kpin(self->dev, imp.handle, page, 2 * page, &kp));
	EXPECT_EQ(1, kp.was_purged);
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(fnv1a(zeros, 2 * page), sum);
	/* Still purged for the next kernel pin over them too. */
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 2 * page, page, &again));
	EXPECT_EQ(1, again.was_purged);
	/* Pages never unpinned were not purged. */
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, page, &head));
	EXPECT_EQ(0, head.was_purged);
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 3 * page, 0, &tail));
	EXPECT_EQ(0, tail.was_purged);

	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, page, 2 * page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, page, 2 * page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, page, 2 * page));
	EXPECT_TRUE(is_zero(mem + page, 2 * page));
	EXPECT_EQ('d', mem[0]);
	EXPECT_EQ('d', mem[4 * page - 1]);
	munmap(zeros, 2 * page);
	munmap(mem, 4 * page);
}

/*
 * One unpin across the ends of several kernel pins, more pieces than a
 * region keeps tree nodes for: every page no pin holds is purgeable at once,
 * and each held one once its last pin is dropped.
 */
TEST_F(import, unpin_across_kernel_pins)
{
	struct ashmem_import_pin a, b, c;
	struct ashmem_import imp;
	char *mem = map_pages(self->ashmem, 12);
	int fd = self->ashmem;

	ASSERT_TRUE(mem != MAP_FAILED);
	memset(mem, 'u', 12 * page);
	ASSERT_EQ(0, import_fd(self->dev, fd, &imp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 2 * page, 2 * page, &a));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 6 * page, 2 * page, &b));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 7 * page, 3 * page, &c));

	/* Nothing unpinned left by others: the counts below are this region's. */
	ASSERT_LE(0, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	/* Seven pieces, cut at pages 2, 4, 6, 7, 8 and 10. */
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, 0));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 7 * page, page));
	/* Pages 0-1, 4-5 and 10-11. */
	EXPECT_EQ(6, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(0, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	/* Page 6; page 7 is still under the third pin. */
	ASSERT_EQ(0, kunpin(self->dev, b.pin));
	EXPECT_EQ(1, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	ASSERT_EQ(0, kunpin(self->dev, a.pin));
	ASSERT_EQ(0, kunpin(self->dev, c.pin));
	/* Pages 2-3 and 7-9. */
	EXPECT_EQ(5, ash(fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, 0, 0));
	EXPECT_TRUE(is_zero(mem, 12 * page));
	munmap(mem, 12 * page);
}

TEST_F(import, memfd_pin_checksum_and_fill)
{
	char *want = scratch(4), *got = scratch(4), *map;
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	int fd = memfd_with("import-memfd", 4, 5, 0);
	uint64_t sum;

	ASSERT_LE(0, fd);
	ASSERT_TRUE(want != MAP_FAILED);
	ASSERT_TRUE(got != MAP_FAILED);
	pattern(want, 4 * page, 5);
	ASSERT_EQ(0, import_fd(self->dev, fd, &imp));
	ASSERT_EQ(KIND_MEMFD, imp.kind);
	/* Its size could change under the pin. */
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 4 * page, page, &kp));
	EXPECT_EQ(-EINVAL, kpin(self->dev, imp.handle, 0, 5 * page, &kp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	EXPECT_EQ(0, kp.was_purged);
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(fnv1a(want, 4 * page), sum);
	EXPECT_EQ(-EINVAL, checksum(self->dev, kp.pin, 4 * page, 1, &sum));

	map = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, fill(self->dev, kp.pin, page + 1, page, 0x7e));
	memset(want + page + 1, 0x7e, page);
	ASSERT_EQ(4 * page, pread(fd, got, 4 * page, 0));
	EXPECT_EQ(0, memcmp(want, got, 4 * page));
	EXPECT_EQ(0, memcmp(want, map, 4 * page));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(fnv1a(want, 4 * page), sum);
	ASSERT_EQ(3, pwrite(fd, "abc", 3, 2 * page));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 2 * page, 3, &sum));
	EXPECT_EQ(fnv1a("abc", 3), sum);
	memcpy(want + 2 * page, "abc", 3);
	/* A shared mapping of a writable fd would refuse F_SEAL_WRITE itself. */
	ASSERT_EQ(0, munmap(map, 4 * page));

	/* The pin's pages carry references: the write seal waits, then refuses. */
	EXPECT_EQ(-1, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE);
	ASSERT_EQ(0, kunpin(self->dev, kp.pin));
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	/* Sealed: the kernel reads, and does not write. */
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	EXPECT_EQ(-EPERM, fill(self->dev, kp.pin, 0, 1, 'x'));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(fnv1a(want, 4 * page), sum);
	close(fd);
	munmap(got, 4 * page);
	munmap(want, 4 * page);
}

TEST_F(import, memfd_future_write_seal)
{
	char *want = scratch(2), *got = scratch(2);
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	int fd = memfd_with("import-future", 2, 6, F_SEAL_SHRINK);
	uint64_t sum;

	ASSERT_LE(0, fd);
	ASSERT_TRUE(want != MAP_FAILED);
	ASSERT_TRUE(got != MAP_FAILED);
	pattern(want, 2 * page, 6);
	ASSERT_EQ(0, import_fd(self->dev, fd, &imp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, fill(self->dev, kp.pin, 0, 1, 'f'));
	want[0] = 'f';
	/* Unlike F_SEAL_WRITE, it does not wait for pins. */
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	EXPECT_EQ(-EPERM, fill(self->dev, kp.pin, 0, page, 'x'));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(fnv1a(want, 2 * page), sum);
	ASSERT_EQ(2 * page, pread(fd, got, 2 * page, 0));
	EXPECT_EQ(0, memcmp(want, got, 2 * page));
	close(fd);
	munmap(got, 2 * page);
	munmap(want, 2 * page);
}

/* A memfd imported through a read-only fd is read, not written. */
TEST_F(import, memfd_read_only_fd)
{
	struct ashmem_import_pin kp, rw_pin;
	struct ashmem_import imp, rw;
	int fd = memfd_with("import-ro", 2, 7, F_SEAL_SHRINK), ro;
	char *want = scratch(2), path[64];
	uint64_t sum;

	ASSERT_LE(0, fd);
	ASSERT_TRUE(want != MAP_FAILED);
	pattern(want, 2 * page, 7);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY);
	ASSERT_LE(0, ro) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, import_fd(self->dev, ro, &imp));
	EXPECT_EQ(KIND_MEMFD, imp.kind);
	EXPECT_EQ(2 * page, imp.size);
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(fnv1a(want, 2 * page), sum);
	EXPECT_EQ(-EBADF, fill(self->dev, kp.pin, 0, 1, 'x'));
	/* Through the writable fd, the same memfd is written. */
	ASSERT_EQ(0, import_fd(self->dev, fd, &rw));
	ASSERT_EQ(0, kpin(self->dev, rw.handle, 0, 0, &rw_pin));
	ASSERT_EQ(0, fill(self->dev, rw_pin.pin, 0, 1, 'w'));
	want[0] = 'w';
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(fnv1a(want, 2 * page), sum);
	EXPECT_EQ(-EBADF, fill(self->dev, kp.pin, 0, 1, 'x'));
	close(ro);
	close(fd);
	munmap(want, 2 * page);
}

/* Without PROT_WRITE in the mask, the kernel does not write either. */
TEST_F(import, region_prot_mask_without_write)
{
	struct ashmem_import_pin kp, later;
	struct ashmem_import imp;
	char *mem = map_pages(self->ashmem, 2), *want = scratch(2);
	uint64_t sum;

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_TRUE(want != MAP_FAILED);
	pattern(mem, 2 * page, 8);
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, fill(self->dev, kp.pin, page, 1, 'w'));
	memcpy(want, mem, 2 * page);
	EXPECT_EQ('w', want[page]);

	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_PROT_MASK, PROT_READ));
	EXPECT_EQ(-EPERM, fill(self->dev, kp.pin, 0, page, 'x'));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, page, page, &later));
	EXPECT_EQ(-EPERM, fill(self->dev, later.pin, 0, 1, 'x'));
	EXPECT_EQ(0, memcmp(want, mem, 2 * page));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 2 * page, &sum));
	EXPECT_EQ(fnv1a(want, 2 * page), sum);
	munmap(want, 2 * page);
	munmap(mem, 2 * page);
}

/* A pinned region outlives its fd and mapping; its handle is released once unpinned. */
TEST_F(import, held_region_outlives_its_fd)
{
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	char *mem = map_pages(self->ashmem, 4), *want = scratch(4);
	uint64_t before, sum;

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_TRUE(want != MAP_FAILED);
	pattern(mem, 4 * page, 9);
	memcpy(want, mem, 4 * page);
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &before));
	EXPECT_EQ(fnv1a(want, 4 * page), before);
	ASSERT_EQ(0, munmap(mem, 4 * page));
	close(self->ashmem);
	self->ashmem = open(ASHMEM_DEV, O_RDWR);	/* for the teardown */
	ASSERT_LE(0, self->ashmem);

	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(before, sum);
	ASSERT_EQ(0, fill(self->dev, kp.pin, 4 * page - 1, 1, 'z'));
	want[4 * page - 1] = 'z';
	ASSERT_EQ(0, checksum(self->dev, kp.pin, 0, 4 * page, &sum));
	EXPECT_EQ(fnv1a(want, 4 * page), sum);
	ASSERT_EQ(0, info(self->dev, imp.handle, &imp));
	EXPECT_EQ(KIND_REGION, imp.kind);
	EXPECT_EQ(4 * page, imp.size);

	EXPECT_EQ(-EBUSY, release(self->dev, imp.handle));
	ASSERT_EQ(0, info(self->dev, imp.handle, &imp));
	ASSERT_EQ(0, kunpin(self->dev, kp.pin));
	EXPECT_EQ(0, release(self->dev, imp.handle));
	EXPECT_EQ(-EINVAL, info(self->dev, imp.handle, &imp));
	munmap(want, 4 * page);
}

/* Closing the device drops its pins: purges and seals no longer see them. */
TEST_F(import, closing_the_device_drops_its_pins)
{
	struct ashmem_import_pin kp, mp;
	struct ashmem_import imp, mimp;
	char *mem = map_pages(self->ashmem, 2);
	int dev = open(IMPORT_DEV, O_RDWR), fd = memfd_with("import-close", 1, 10, F_SEAL_SHRINK);

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_LE(0, dev);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pin_op(self->ashmem, ASHMEM_UNPIN, 0, 0));
	ASSERT_EQ(0, import_fd(dev, self->ashmem, &imp));
	ASSERT_EQ(0, kpin(dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, import_fd(dev, fd, &mimp));
	ASSERT_EQ(0, kpin(dev, mimp.handle, 0, 0, &mp));
	EXPECT_EQ(0, ash(self->ashmem, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(-1, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EBUSY, errno);

	ASSERT_EQ(0, close(dev));
	EXPECT_EQ(2, ash(self->ashmem, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(self->ashmem, ASHMEM_PIN, 0, 0));
	EXPECT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	close(fd);
	munmap(mem, 2 * page);
}

/* 64 pins per open file, the same page again and again if need be. */
TEST_F(import, pins_are_bounded)
{
	struct ashmem_import_pin kp, mp;
	struct ashmem_import imp, mimp;
	char *mem = map_pages(self->ashmem, 2);
	int fd = memfd_with("import-pins", 1, 11, F_SEAL_SHRINK), dev, i, j;
	uint32_t pins[MAX_PINS];

	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	for (i = 0; i < MAX_PINS; i++) {
		ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, page, &kp)) TH_LOG("pin %d", i);
		pins[i] = kp.pin;
		for (j = 0; j < i; j++)
			ASSERT_NE(pins[j], pins[i]) TH_LOG("pins %d and %d", j, i);
	}
	EXPECT_EQ(-ENOSPC, kpin(self->dev, imp.handle, page, page, &kp));
	ASSERT_EQ(0, kunpin(self->dev, pins[10]));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, page, page, &kp));
	pins[10] = kp.pin;
	EXPECT_EQ(-ENOSPC, kpin(self->dev, imp.handle, page, page, &kp));

	/* The limit is the file's, whatever the handle... */
	ASSERT_EQ(0, import_fd(self->dev, fd, &mimp));
	EXPECT_EQ(-ENOSPC, kpin(self->dev, mimp.handle, 0, 0, &mp));
	ASSERT_EQ(0, kunpin(self->dev, pins[0]));
	ASSERT_EQ(0, kpin(self->dev, mimp.handle, 0, 0, &mp));
	EXPECT_EQ(-ENOSPC, kpin(self->dev, mimp.handle, 0, 0, &mp));
	/* ...and another open file has its own. */
	dev = open(IMPORT_DEV, O_RDWR);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, import_fd(dev, fd, &mimp));
	EXPECT_EQ(0, kpin(dev, mimp.handle, 0, 0, &mp));
	close(dev);
	close(fd);
	munmap(mem, 2 * page);
}

/*
 * 64 MiB pinned per open file, counted pin by pin: 32 pins of the same 2 MiB
 * reach it (fewer pins than the limit of pins) and allocate 2 MiB only.
 */
TEST_F(import, pinned_bytes_are_bounded)
{
	const long chunk = 2 << 20, pins = MAX_PINNED_BYTES / chunk;
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	uint32_t first = 0;
	void *mem;
	long i;

	ASSERT_EQ(0, ash(self->ashmem, ASHMEM_SET_SIZE, chunk + page));
	mem = mmap(NULL, chunk + page, PROT_READ, MAP_SHARED, self->ashmem, 0);
	ASSERT_TRUE(mem != MAP_FAILED);
	ASSERT_EQ(0, import_fd(self->dev, self->ashmem, &imp));
	for (i = 0; i < pins; i++) {
		ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, chunk, &kp)) TH_LOG("pin %ld", i);
		if (!i)
			first = kp.pin;
	}
	EXPECT_EQ(-ENOSPC, kpin(self->dev, imp.handle, chunk, page, &kp));
	ASSERT_EQ(0, kunpin(self->dev, first));
	/* Up to the limit, not a page past it. */
	EXPECT_EQ(-ENOSPC, kpin(self->dev, imp.handle, 0, 0, &kp));
	ASSERT_EQ(0, kpin(self->dev, imp.handle, 0, chunk, &kp));
	EXPECT_EQ(-ENOSPC, kpin(self->dev, imp.handle, chunk, page, &kp));
	munmap(mem, chunk + page);
}

/*
 * Races: importers import, pin, checksum, unpin and release shared regions
 * (or close their device with pins held), user threads unpin and pin the
 * last pages of them, a purger purges (ASHMEM_PURGE_ALL_CACHES and the
 * shrinker), and a cycler replaces regions behind two fd numbers with dup2():
 * 'mapped' always holds a mapped region of known data, 'bare' one never
 * mapped, whose pins are EINVAL. Nothing writes after setup: pages never
 * unpinned keep their data; held pages do not change; a page is either
 * intact or purged whole, and a user pin that says NOT_PURGED lost none.
 */
#define SHARED 2		/* regions with a user thread each */
#define SHARED_PAGES 8
#define STABLE 4		/* its first pages, never unpinned */
#define IMPORTERS 3
#define RACE_NS 1500000000LL
#define DROP_NS 250000000LL	/* between drop_caches */

struct race {
	int fds[SHARED];
	char *maps[SHARED];
	int mapped, bare;
	char *tmpl[SHARED + 1];		/* the data of each, 'mapped' last */
	uint64_t page_sum[SHARED + 1][SHARED_PAGES];
	uint64_t zero_sum;
	char *zeros;
	long long end;		/* CLOCK_MONOTONIC, in ns */
};

struct racer {
	pthread_t thread;
	void *(*fn)(void *arg);
	struct race *race;
	const char *role;
	int id;
	uint64_t rnd;
	unsigned long ops, errors;
	char first[256];
};

static void race_error(struct racer *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->errors++) {
		va_start(ap, fmt);
		vsnprintf(w->first, sizeof(w->first), fmt, ap);
		va_end(ap);
	}
}

static long long now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec * 1000000000LL + now.tv_nsec;
}

static int race_over(struct race *race)
{
	return now_ns() >= race->end;
}

/* One import of a slot: 0 when the device file may be used on, -1 to reopen it. */
static int import_round(struct racer *w, int dev, char *buf)
{
	struct race *race = w->race;
	int slot = xorshift64(&w->rnd) % (SHARED + 2), vary = slot < SHARED;
	int fd = vary ? race->fds[slot] : slot == SHARED ? race->mapped : race->bare;
	struct ashmem_import_pin kp;
	struct ashmem_import imp;
	long first, count, i, p, ret;
	uint64_t sum, want;

	ret = import_fd(dev, fd, &imp);
	if (ret || imp.kind != KIND_REGION || imp.size != SHARED_PAGES * page) {
		race_error(w, "import of slot %d: %ld, kind %u, size %llu", slot, ret, imp.kind,
			   (unsigned long long)imp.size);
		return -1;
	}
	if (slot == SHARED + 1) {
		ret = kpin(dev, imp.handle, 0, 0, &kp);
		if (ret != -EINVAL) {
			race_error(w, "pin of a region never mapped: %ld", ret);
			return -1;
		}
		goto release;
	}
	first = xorshift64(&w->rnd) % SHARED_PAGES;
	count = 1 + xorshift64(&w->rnd) % (SHARED_PAGES - first);
	vary = vary && first + count > STABLE;
	ret = kpin(dev, imp.handle, first * page, count * page, &kp);
	if (ret || kp.was_purged > 1 || (!vary && kp.was_purged)) {
		race_error(w, "pin of pages %ld+%ld of slot %d: %ld, was_purged %u", first, count,
			   slot, ret, kp.was_purged);
		return -1;
	}
	for (i = 0; i < count; i++) {
		p = first + i;
		want = race->page_sum[slot][p];
		ret = checksum(dev, kp.pin, i * page, page, &sum);
		/* Pages user threads unpin may have been purged before the pin. */
		if (ret || (sum != want && (!vary || p < STABLE || sum != race->zero_sum))) {
			race_error(w, "checksum of page %ld of slot %d: %ld, %#llx", p, slot, ret,
				   (unsigned long long)sum);
			return -1;
		}
		memcpy(buf + i * page, sum == want ? race->tmpl[slot] + p * page : race->zeros,
		       page);
	}
	sched_yield();
	/* Held: no purge changed them meanwhile. */
	ret = checksum(dev, kp.pin, 0, count * page, &sum);
	if (ret || sum != fnv1a(buf, count * page)) {
		race_error(w, "held pages %ld+%ld of slot %d changed: %ld", first, count, slot,
			   ret);
		return -1;
	}
	/* Closing the device drops the pin and the import. */
	if (xorshift64(&w->rnd) % 8 == 0)
		return -1;
	ret = kunpin(dev, kp.pin);
	if (ret) {
		race_error(w, "unpin: %ld", ret);
		return -1;
	}
release:
	ret = release(dev, imp.handle);
	if (ret) {
		race_error(w, "release: %ld", ret);
		return -1;
	}
	return 0;
}

static void *importer(void *arg)
{
	struct racer *w = arg;
	char *buf = malloc(SHARED_PAGES * page);
	int dev = -1;

	if (!buf) {
		race_error(w, "no memory");
		return NULL;
	}
	do {
		if (dev < 0)
			dev = open(IMPORT_DEV, O_RDWR);
		if (dev < 0) {
			race_error(w, "open %s: %s", IMPORT_DEV, strerror(errno));
			break;
		}
		if (import_round(w, dev, buf)) {
			close(dev);
			dev = -1;
		}
		w->ops++;
	} while (!race_over(w->race));
	if (dev >= 0)
		close(dev);
	free(buf);
	return NULL;
}

/* Unpins and pins the pages after STABLE of region w->id, and checks what it finds. */
static void *user(void *arg)
{
	struct racer *w = arg;
	struct race *race = w->race;
	int fd = race->fds[w->id], purged[SHARED_PAGES] = { 0 };
	char *map = race->maps[w->id], *tmpl = race->tmpl[w->id];
	long first, count, p, ret;

	do {
		w->ops++;
		first = STABLE + xorshift64(&w->rnd) % (SHARED_PAGES - STABLE);
		count = 1 + xorshift64(&w->rnd) % (SHARED_PAGES - first);
		ret = pin_op(fd, ASHMEM_UNPIN, first * page, count * page);
		if (ret || pin_op(fd, ASHMEM_GET_PIN_STATUS, first * page, count * page) !=
			   ASHMEM_IS_UNPINNED) {
			race_error(w, "unpin of pages %ld+%ld: %ld", first, count, ret);
			break;
		}
		if (xorshift64(&w->rnd) % 2)
			sched_yield();
		ret = pin_op(fd, ASHMEM_PIN, first * page, count * page);
		if (ret != ASHMEM_NOT_PURGED && ret != ASHMEM_WAS_PURGED) {
			race_error(w, "pin of pages %ld+%ld: %ld", first, count, ret);
			break;
		}
		for (p = first; p < first + count; p++) {
			int intact = !memcmp(map + p * page, tmpl + p * page, page);
			int zero = !intact && is_zero(map + p * page, page);

			/* Purged whole, for good, and reported. */
			if ((!intact && !zero) || (intact && purged[p]) ||
			    (zero && !purged[p] && ret == ASHMEM_NOT_PURGED)) {
				race_error(w, "page %ld: intact %d, zero %d, was zero %d, pin %ld",
					   p, intact, zero, purged[p], ret);
				return NULL;
			}
			purged[p] = zero;
		}
		if (memcmp(map, tmpl, STABLE * page) ||
		    pin_op(fd, ASHMEM_GET_PIN_STATUS, 0, 0) != ASHMEM_IS_PINNED) {
			race_error(w, "pinned pages changed");
			break;
		}
	} while (!race_over(race));
	return NULL;
}

static void *purger(void *arg)
{
	struct racer *w = arg;
	long long drop = now_ns() + DROP_NS;
	long ret;

	do {
		w->ops++;
		ret = ash(w->race->fds[0], ASHMEM_PURGE_ALL_CACHES, 0);
		if (ret < 0) {
			race_error(w, "ASHMEM_PURGE_ALL_CACHES: %ld", ret);
			break;
		}
		/* The shrinker too, now and then. */
		if (now_ns() >= drop) {
			ret = write_file("/proc/sys/vm/drop_caches", "2");
			if (ret) {
				race_error(w, "drop_caches: %ld", ret);
				break;
			}
			drop = now_ns() + DROP_NS;
		}
		usleep(200);
	} while (!race_over(w->race));
	return NULL;
}

/* A new region of SHARED_PAGES pages: mapped and written with 'tmpl', or never mapped. */
static int new_region(const char *tmpl)
{
	int fd = open(ASHMEM_DEV, O_RDWR);
	char *map;

	if (fd < 0)
		return -1;
	if (ash(fd, ASHMEM_SET_SIZE, SHARED_PAGES * page))
		goto fail;
	if (tmpl) {
		map = mmap(NULL, SHARED_PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			goto fail;
		memcpy(map, tmpl, SHARED_PAGES * page);
		munmap(map, SHARED_PAGES * page);
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Replaces the regions behind 'mapped' and 'bare': the old ones are closed. */
static void *cycler(void *arg)
{
	struct racer *w = arg;
	struct race *race = w->race;
	int fd, slot;

	do {
		slot = w->ops++ % 2 ? race->bare : race->mapped;
		fd = new_region(slot == race->mapped ? race->tmpl[SHARED] : NULL);
		if (fd < 0 || dup2(fd, slot) != slot || close(fd)) {
			race_error(w, "replacing fd %d: %s", slot, strerror(errno));
			break;
		}
	} while (!race_over(race));
	return NULL;
}

TEST_F(import, races_keep_data)
{
	struct racer w[IMPORTERS + SHARED + 2];
	struct race race = { .mapped = -1, .bare = -1 };
	int r, p, n = 0;

	race.zeros = scratch(1);
	ASSERT_TRUE(race.zeros != MAP_FAILED);
	race.zero_sum = fnv1a(race.zeros, page);
	for (r = 0; r <= SHARED; r++) {
		race.tmpl[r] = scratch(SHARED_PAGES);
		ASSERT_TRUE(race.tmpl[r] != MAP_FAILED);
		pattern(race.tmpl[r], SHARED_PAGES * page, 20 + r);
		for (p = 0; p < SHARED_PAGES; p++)
			race.page_sum[r][p] = fnv1a(race.tmpl[r] + p * page, page);
	}
	for (r = 0; r < SHARED; r++) {
		race.fds[r] = open(ASHMEM_DEV, O_RDWR);
		ASSERT_LE(0, race.fds[r]);
		race.maps[r] = map_pages(race.fds[r], SHARED_PAGES);
		ASSERT_TRUE(race.maps[r] != MAP_FAILED);
		memcpy(race.maps[r], race.tmpl[r], SHARED_PAGES * page);
	}
	race.mapped = new_region(race.tmpl[SHARED]);
	ASSERT_LE(0, race.mapped);
	race.bare = new_region(NULL);
	ASSERT_LE(0, race.bare);

	for (r = 0; r < IMPORTERS; r++)
		w[n++] = (struct racer){ .fn = importer, .role = "importer", .id = r };
	for (r = 0; r < SHARED; r++)
		w[n++] = (struct racer){ .fn = user, .role = "user", .id = r };
	w[n++] = (struct racer){ .fn = purger, .role = "purger" };
	w[n++] = (struct racer){ .fn = cycler, .role = "cycler" };
	race.end = now_ns() + RACE_NS;
	for (r = 0; r < n; r++) {
		w[r].race = &race;
		w[r].rnd = 0x9e3779b97f4a7c15ULL * (r + 1);
		ASSERT_EQ(0, pthread_create(&w[r].thread, NULL, w[r].fn, &w[r]));
	}
	for (r = 0; r < n; r++)
		ASSERT_EQ(0, pthread_join(w[r].thread, NULL));
	for (r = 0; r < n; r++) {
		EXPECT_EQ(0, w[r].errors)
			TH_LOG("%s %d: %lu errors, the first: %s", w[r].role, w[r].id,
			       w[r].errors, w[r].first);
		EXPECT_LT(0, w[r].ops) TH_LOG("%s %d never ran", w[r].role, w[r].id);
	}
	for (r = 0; r < SHARED; r++) {
		EXPECT_EQ(0, memcmp(race.maps[r], race.tmpl[r], STABLE * page));
		munmap(race.maps[r], SHARED_PAGES * page);
		close(race.fds[r]);
	}
	close(race.mapped);
	close(race.bare);
	for (r = 0; r <= SHARED; r++)
		munmap(race.tmpl[r], SHARED_PAGES * page);
	munmap(race.zeros, page);
}

TEST_HARNESS_MAIN
