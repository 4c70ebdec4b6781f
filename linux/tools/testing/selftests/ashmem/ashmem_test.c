// SPDX-License-Identifier: GPL-2.0
/*
 * Conformance of /dev/ashmem with the interface Android userspace relies
 * on: every command, its errors, mappings, protections, reads and seeks.
 * Needs an ashmem driver (CONFIG_SAMPLE_RUST_ASHMEM) and root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "ashmem_util.h"

static long page;

/* A region of 'pages' pages, mapped shared and writable. */
static void *map_region(int fd, long pages)
{
	if (ash(fd, ASHMEM_SET_SIZE, pages * page))
		return MAP_FAILED;
	return mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

FIXTURE(region) {
	int fd;
};

FIXTURE_SETUP(region)
{
	page = sysconf(_SC_PAGESIZE);
	self->fd = open(ASHMEM_DEV, O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", ASHMEM_DEV, strerror(errno));
}

FIXTURE_TEARDOWN(region)
{
	close(self->fd);
}

TEST_F(region, new_region_defaults)
{
	char name[ASHMEM_NAME_LEN];

	EXPECT_EQ(0, ash(self->fd, ASHMEM_GET_SIZE, 0));
	EXPECT_EQ(PROT_READ | PROT_WRITE | PROT_EXEC, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ(ASHMEM_NAME_DEF, name);
}

TEST_F(region, device_node)
{
	struct stat dev, fd;

	ASSERT_EQ(0, stat(ASHMEM_DEV, &dev));
	ASSERT_EQ(0, fstat(self->fd, &fd));
	EXPECT_TRUE(S_ISCHR(fd.st_mode));
	EXPECT_EQ(dev.st_rdev, fd.st_rdev);
	EXPECT_EQ(0666, dev.st_mode & 0777);
}

TEST_F(region, set_and_get_name)
{
	char name[ASHMEM_NAME_LEN];

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"camera-buffer"));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ("camera-buffer", name);
}

TEST_F(region, empty_name_unsets)
{
	char name[ASHMEM_NAME_LEN];

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"first"));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)""));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ(ASHMEM_NAME_DEF, name);
}

TEST_F(region, long_name_is_truncated)
{
	char name[400], back[ASHMEM_NAME_LEN];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)name));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)back));
	EXPECT_EQ(ASHMEM_NAME_LEN - 1, strlen(back));
	EXPECT_EQ(0, strncmp(name, back, ASHMEM_NAME_LEN - 1));
}

/* The kernel must stop at the NUL: a short name right before a guard page. */
TEST_F(region, name_before_guard_page)
{
	char *pages, *name, back[ASHMEM_NAME_LEN];

	pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(pages != MAP_FAILED);
	ASSERT_EQ(0, mprotect(pages + page, page, PROT_NONE));
	name = pages + page - 5;
	memcpy(name, "edge", 5);
	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)name));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)back));
	EXPECT_STREQ("edge", back);
	/* Without its NUL before the guard page, the name faults. */
	memcpy(name, "edge!", 5);
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)name));
	munmap(pages, 2 * page);
}

TEST_F(region, name_bad_pointers)
{
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_SET_NAME, 0));
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_GET_NAME, 0));
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_SET_NAME, 8));
}

/* GET_NAME copies the name and its NUL, not the rest of a kernel buffer. */
TEST_F(region, get_name_copies_only_the_name)
{
	unsigned char back[ASHMEM_NAME_LEN];
	int i;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"abc"));
	memset(back, 0xaa, sizeof(back));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)back));
	EXPECT_EQ(0, memcmp(back, "abc", 4));
	for (i = 4; i < ASHMEM_NAME_LEN; i++)
		ASSERT_EQ(0xaa, back[i]) TH_LOG("byte %d written", i);
	memset(back, 0xaa, sizeof(back));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)""));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)back));
	for (i = sizeof(ASHMEM_NAME_DEF); i < ASHMEM_NAME_LEN; i++)
		ASSERT_EQ(0xaa, back[i]) TH_LOG("byte %d written", i);
}

TEST_F(region, size_is_any_value)
{
	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, 12345));
	EXPECT_EQ(12345, ash(self->fd, ASHMEM_GET_SIZE, 0));
	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, 3 * page));
	EXPECT_EQ(3 * page, ash(self->fd, ASHMEM_GET_SIZE, 0));
}

TEST_F(region, name_and_size_fixed_once_mapped)
{
	void *map = map_region(self->fd, 2);

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, munmap(map, 2 * page));
	/* Even after munmap: the backing exists. */
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"late"));
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_SIZE, page));
	EXPECT_EQ(2 * page, ash(self->fd, ASHMEM_GET_SIZE, 0));
	/* A bad pointer is still EFAULT: the copy comes first. */
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_SET_NAME, 0));
}

TEST_F(region, mmap_needs_a_size)
{
	void *map = mmap(NULL, page, PROT_READ, MAP_SHARED, self->fd, 0);

	EXPECT_TRUE(map == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(region, mmap_not_longer_than_the_region)
{
	void *map;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page + 1));
	map = mmap(NULL, 3 * page, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_TRUE(map == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	/* Up to the page-aligned size is fine. */
	map = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	munmap(map, 2 * page);
}

TEST_F(region, prot_mask_only_shrinks)
{
	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ | PROT_WRITE));
	EXPECT_EQ(PROT_READ | PROT_WRITE, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ | PROT_EXEC));
	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ | PROT_WRITE));
	EXPECT_EQ(PROT_READ, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));
}

TEST_F(region, mmap_beyond_mask_is_eperm)
{
	void *map;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_TRUE(map == MAP_FAILED);
	EXPECT_EQ(EPERM, errno);
}

TEST_F(region, mprotect_cannot_add_a_removed_protection)
{
	char *map;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	map = mmap(NULL, page, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(-1, mprotect(map, page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(map, page, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	munmap(map, page);
}

TEST_F(region, shared_mappings_share_memory)
{
	char *one = map_region(self->fd, 2), *two;

	ASSERT_TRUE(one != MAP_FAILED);
	two = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(two != MAP_FAILED);
	memcpy(one + page, "shared", sizeof("shared"));
	EXPECT_STREQ("shared", two + page);
	munmap(two, 2 * page);
	munmap(one, 2 * page);
}

TEST_F(region, private_mapping_is_anonymous)
{
	char *shared = map_region(self->fd, 1), *private;

	ASSERT_TRUE(shared != MAP_FAILED);
	memcpy(shared, "shared data", sizeof("shared data"));
	private = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_TRUE(private != MAP_FAILED);
	EXPECT_EQ(0, private[0]);
	memcpy(private, "private", sizeof("private"));
	EXPECT_STREQ("shared data", shared);
	munmap(private, page);
	munmap(shared, page);
}

TEST_F(region, shared_across_fork)
{
	char *map = map_region(self->fd, 1);
	pid_t child;
	int status;

	ASSERT_TRUE(map != MAP_FAILED);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		memcpy(map, "from the child", sizeof("from the child"));
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_STREQ("from the child", map);
	munmap(map, page);
}

/* An fd passed over a unix socket, as binder passes it between apps. */
TEST_F(region, shared_across_scm_rights)
{
	char cbuf[CMSG_SPACE(sizeof(int))], name[ASHMEM_NAME_LEN], byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cmsg;
	char *map, *other;
	int sv[2], fd;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"passed"));
	map = map_region(self->fd, 1);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &self->fd, sizeof(int));
	ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));
	memset(cbuf, 0, sizeof(cbuf));
	ASSERT_EQ(1, recvmsg(sv[1], &msg, 0));
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_TRUE(cmsg && cmsg->cmsg_type == SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	close(sv[0]);
	close(sv[1]);

	ASSERT_EQ(0, ash(fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ("passed", name);
	other = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_TRUE(other != MAP_FAILED);
	memcpy(other, "through the socket", sizeof("through the socket"));
	EXPECT_STREQ("through the socket", map);
	munmap(other, page);
	close(fd);
	munmap(map, page);
}

/* One open file, one region: dup'd and inherited fds share its pin state. */
TEST_F(region, pin_state_shared_by_dup_and_fork)
{
	void *map = map_region(self->fd, 2);
	int copy = dup(self->fd), status;
	pid_t child;

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_LE(0, copy);
	ASSERT_EQ(0, pin_op(copy, ASHMEM_UNPIN, 0, 0));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(self->fd, ASHMEM_GET_PIN_STATUS, 0, 0));
	close(copy);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(pin_op(self->fd, ASHMEM_PIN, 0, 0) == ASHMEM_NOT_PURGED ? 0 : 1);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(self->fd, ASHMEM_GET_PIN_STATUS, 0, 0));
	munmap(map, 2 * page);
}

/* Each open is a region of its own. */
TEST_F(region, opens_are_independent)
{
	char name[ASHMEM_NAME_LEN];
	int other = open(ASHMEM_DEV, O_RDWR);

	ASSERT_LE(0, other);
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"one"));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, 3 * page));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	ASSERT_EQ(0, ash(other, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ(ASHMEM_NAME_DEF, name);
	EXPECT_EQ(0, ash(other, ASHMEM_GET_SIZE, 0));
	EXPECT_EQ(PROT_READ | PROT_WRITE | PROT_EXEC, ash(other, ASHMEM_GET_PROT_MASK, 0));
	close(other);
}

/* Mappings hold the backing memory: they outlive the region's last fd. */
TEST_F(region, mapping_outlives_the_fd)
{
	int fd = open(ASHMEM_DEV, O_RDWR);
	char *map;

	ASSERT_LE(0, fd);
	map = map_region(fd, 2);
	ASSERT_TRUE(map != MAP_FAILED);
	memcpy(map + page, "still here", sizeof("still here"));
	close(fd);
	EXPECT_STREQ("still here", map + page);
	memcpy(map, "and writable", sizeof("and writable"));
	EXPECT_STREQ("and writable", map);
	munmap(map, 2 * page);
}

/* The page offset is not checked; touching past the size is SIGBUS, as on shmem. */
TEST_F(region, access_beyond_the_size_is_sigbus)
{
	int status;
	pid_t child;
	char *map;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page));
	map = mmap(NULL, page, PROT_READ, MAP_SHARED, self->fd, page);
	ASSERT_TRUE(map != MAP_FAILED);
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(map[0] ? 3 : 0);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	munmap(map, page);
}

/* Under READ_IMPLIES_EXEC, PROT_READ in the mask brings PROT_EXEC back. */
TEST_F(region, read_implies_exec_adds_exec)
{
	int status;
	pid_t child;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		if (personality(READ_IMPLIES_EXEC) == -1)
			_exit(2);
		if (ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ))
			_exit(3);
		_exit(ash(self->fd, ASHMEM_GET_PROT_MASK, 0) == (PROT_READ | PROT_EXEC) ? 0 : 1);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status);
	EXPECT_EQ(PROT_READ | PROT_EXEC, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));
	/* The check comes first: asking for WRITE is still refused. */
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ | PROT_WRITE));
}

TEST_F(region, read_follows_size_and_backing)
{
	char buf[16], *map;

	/* Size 0: end of file. Before the first mmap: EBADF. */
	EXPECT_EQ(0, read(self->fd, buf, sizeof(buf)));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page));
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EBADF, errno);
	map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	memcpy(map, "read me", sizeof("read me"));
	ASSERT_EQ(8, read(self->fd, buf, 8));
	EXPECT_STREQ("read me", buf);
	EXPECT_EQ(8, lseek(self->fd, 0, SEEK_CUR));
	munmap(map, page);
}

TEST_F(region, write_is_not_supported)
{
	void *map = map_region(self->fd, 1);

	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(-1, write(self->fd, "x", 1));
	EXPECT_EQ(EINVAL, errno);
	munmap(map, page);
}

TEST_F(region, lseek_follows_size_and_backing)
{
	char *map;

	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, 4 * page));
	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(EBADF, errno);
	map = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(page, lseek(self->fd, page, SEEK_SET));
	EXPECT_EQ(page + 10, lseek(self->fd, 10, SEEK_CUR));
	EXPECT_EQ(4 * page - 1, lseek(self->fd, -1, SEEK_END));
	/* Only page 2 holds data. */
	map[2 * page] = 1;
	EXPECT_EQ(2 * page, lseek(self->fd, 0, SEEK_DATA));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_HOLE));
	EXPECT_EQ(3 * page, lseek(self->fd, 2 * page, SEEK_HOLE));
	EXPECT_EQ(-1, lseek(self->fd, 3 * page, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	munmap(map, 4 * page);
}

TEST_F(region, maps_shows_the_name)
{
	char line[512], want[128];
	void *map;
	FILE *maps;
	int found = 0;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"visible-name"));
	map = map_region(self->fd, 1);
	ASSERT_TRUE(map != MAP_FAILED);
	snprintf(want, sizeof(want), "/dev/ashmem/visible-name (deleted)");
	maps = fopen("/proc/self/maps", "r");
	ASSERT_TRUE(!!maps);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, want))
			found = 1;
	fclose(maps);
	EXPECT_TRUE(found);
	munmap(map, page);
}

static int fdinfo_field(int fd, const char *key, char *value, size_t size)
{
	char path[64], line[512];
	size_t len = strlen(key);
	FILE *info;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = fopen(path, "r");
	if (!info)
		return 0;
	while (fgets(line, sizeof(line), info)) {
		if (!strncmp(line, key, len) && line[len] == ':' && line[len + 1] == '\t') {
			snprintf(value, size, "%s", line + len + 2);
			value[strcspn(value, "\n")] = '\0';
			found = 1;
		}
	}
	fclose(info);
	return found;
}

TEST_F(region, fdinfo_lines)
{
	char value[300];
	void *map;

	EXPECT_FALSE(fdinfo_field(self->fd, "inode", value, sizeof(value)));
	EXPECT_FALSE(fdinfo_field(self->fd, "name", value, sizeof(value)));
	ASSERT_TRUE(fdinfo_field(self->fd, "size", value, sizeof(value)));
	EXPECT_STREQ("0", value);
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"info"));
	map = map_region(self->fd, 1);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_TRUE(fdinfo_field(self->fd, "name", value, sizeof(value)));
	EXPECT_STREQ("info", value);
	ASSERT_TRUE(fdinfo_field(self->fd, "inode", value, sizeof(value)));
	EXPECT_LT(0, atol(value));
	munmap(map, page);
}

TEST_F(region, file_id_is_the_backing_inode)
{
	unsigned char buf[16];
	unsigned long id = 0;
	char value[64];
	void *map;
	size_t i;

	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_GET_FILE_ID, (unsigned long)&id));
	map = map_region(self->fd, 1);
	ASSERT_TRUE(map != MAP_FAILED);
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_FILE_ID, (unsigned long)buf));
	memcpy(&id, buf, sizeof(id));
	ASSERT_TRUE(fdinfo_field(self->fd, "inode", value, sizeof(value)));
	EXPECT_EQ(strtoul(value, NULL, 10), id);
	/* Exactly an unsigned long is written: 4 bytes for a 32-bit caller. */
	for (i = sizeof(unsigned long); i < sizeof(buf); i++)
		EXPECT_EQ(0xaa, buf[i]);
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_GET_FILE_ID, 0));
	munmap(map, page);
}

TEST_F(region, pin_before_mmap_is_einval)
{
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page));
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_PIN, 0, 0));
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_UNPIN, 0, 0));
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_GET_PIN_STATUS, 0, 0));
	/* The copy comes first. */
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_PIN, 0));
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_UNPIN, 0));
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_GET_PIN_STATUS, 0));
}

TEST_F(region, pin_range_checks)
{
	void *map = map_region(self->fd, 4);

	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_UNPIN, 1, page));
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_UNPIN, 0, page + 1));
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_UNPIN, 0, 5 * page));
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_UNPIN, 4 * page, page));
	/* offset + len overflows 32 bits. */
	EXPECT_EQ(-EINVAL, pin_op(self->fd, ASHMEM_UNPIN, -(unsigned int)page, 2 * page));
	/* len 0: from offset to the end. */
	EXPECT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, 2 * page, 0));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(self->fd, ASHMEM_GET_PIN_STATUS, 0, 2 * page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(self->fd, ASHMEM_GET_PIN_STATUS, 3 * page, page));
	munmap(map, 4 * page);
}

/* The four pin cases: remove, trim the start, trim the end, split. */
TEST_F(region, pin_cases)
{
	void *map = map_region(self->fd, 10);
	int fd = self->fd;

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, 10 * page));
	/* Split: pin pages 4 and 5 out of the middle. */
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 4 * page, 2 * page));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 4 * page, 2 * page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 3 * page, page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 6 * page, page));
	/* Trim the start of 6..10 and the end of 0..4. */
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 6 * page, page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 3 * page, page));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 3 * page, 4 * page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 2 * page, page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 7 * page, page));
	/* Remove: pin all of 7..10 and 0..3. */
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 7 * page, 3 * page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, 3 * page));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 0, 0));
	munmap(map, 10 * page);
}

TEST_F(region, unpin_merges)
{
	void *map = map_region(self->fd, 8);
	int fd = self->fd;

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, 2 * page));
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 4 * page, 2 * page));
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, page, 4 * page));
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 2 * page, page));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 6 * page, 2 * page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, 6 * page));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 0, 0));
	munmap(map, 8 * page);
}

/* Unpinned, not purged: the data stays. */
TEST_F(region, unpinned_data_survives_without_pressure)
{
	char *map = map_region(self->fd, 2);

	ASSERT_TRUE(map != MAP_FAILED);
	memcpy(map + page, "keep", sizeof("keep"));
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, 0, 0));
	ASSERT_EQ(ASHMEM_NOT_PURGED, pin_op(self->fd, ASHMEM_PIN, 0, 0));
	EXPECT_STREQ("keep", map + page);
	munmap(map, 2 * page);
}

/* Whether page 'n' of 'map' reads as zeros. */
static int page_is_zero(const char *map, long n)
{
	for (long i = 0; i < page; i++)
		if (map[n * page + i])
			return 0;
	return 1;
}

/* Pages 1 and 2 of a written 4-page region unpinned, the others pinned. */
static char *unpin_middle(int fd)
{
	char *map = map_region(fd, 4);

	if (map == MAP_FAILED)
		return map;
	memset(map, 'a', 4 * page);
	if (pin_op(fd, ASHMEM_UNPIN, page, 2 * page)) {
		munmap(map, 4 * page);
		return MAP_FAILED;
	}
	return map;
}

/* Checks what unpin_middle() set up after a purge: pinned pages intact. */
static void expect_middle_purged(struct __test_metadata *_metadata, int fd, char *map)
{
	/* Purged pages stay unpinned until pinned, which reports the purge once. */
	EXPECT_EQ(ASHMEM_IS_UNPINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 2 * page, page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, 2 * page, page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(fd, ASHMEM_PIN, 0, 0));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, 0));
	EXPECT_EQ('a', map[0]);
	EXPECT_EQ('a', map[4 * page - 1]);
	EXPECT_TRUE(page_is_zero(map, 1));
	EXPECT_TRUE(page_is_zero(map, 2));
}

TEST_F(region, purge_all_caches_purges_unpinned_pages)
{
	char *map = unpin_middle(self->fd);
	long before;

	ASSERT_TRUE(map != MAP_FAILED);
	before = ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0);
	/* The count of purgeable pages before, of every region. */
	EXPECT_LE(2, before);
	EXPECT_EQ(0, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	expect_middle_purged(_metadata, self->fd, map);
	munmap(map, 4 * page);
}

TEST_F(region, purge_all_caches_needs_cap_sys_admin)
{
	char *map = unpin_middle(self->fd);

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, purge_all_caches_unprivileged(self->fd));
	/* Nothing was purged. */
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(self->fd, ASHMEM_PIN, 0, 0));
	EXPECT_EQ('a', map[page]);
	munmap(map, 4 * page);
}

/* The shrinker, through reclaim's drop_caches: unpinned pages go, pinned ones stay. */
TEST_F(region, reclaim_purges_unpinned_pages)
{
	char *map = unpin_middle(self->fd);
	int fd;

	ASSERT_TRUE(map != MAP_FAILED);
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ASSERT_LE(0, fd) TH_LOG("drop_caches: %s", strerror(errno));
	ASSERT_EQ(1, write(fd, "2", 1));
	close(fd);
	expect_middle_purged(_metadata, self->fd, map);
	munmap(map, 4 * page);
}

/* A purged page written while still unpinned has memory again, and may be purged again. */
TEST_F(region, purged_pages_can_be_purged_again)
{
	char *map = unpin_middle(self->fd);

	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_LE(2, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	memset(map + page, 'b', page);
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, page, page));
	EXPECT_LE(1, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(self->fd, ASHMEM_PIN, page, page));
	EXPECT_TRUE(page_is_zero(map, 1));
	munmap(map, 4 * page);
}

/* Purged pages are holes in the backing file. */
TEST_F(region, purged_pages_are_holes)
{
	char *map = unpin_middle(self->fd);

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_LE(2, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(page, lseek(self->fd, 0, SEEK_HOLE));
	EXPECT_EQ(3 * page, lseek(self->fd, page, SEEK_DATA));
	munmap(map, 4 * page);
}

/* Unpinning unpinned pages again does not count them twice. */
TEST_F(region, unpinned_pages_count_once)
{
	void *map = map_region(self->fd, 4);

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, 0, 2 * page));
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, 0, 2 * page));
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, page, 2 * page));
	/* Nothing else in the test system unpins. */
	EXPECT_EQ(3, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	munmap(map, 4 * page);
}

/* A closed region's unpinned pages leave the purgeable count. */
TEST_F(region, closing_forgets_unpinned_pages)
{
	int fd = open(ASHMEM_DEV, O_RDWR);
	void *map;

	ASSERT_LE(0, fd);
	map = map_region(fd, 3);
	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, 0));
	munmap(map, 3 * page);
	close(fd);
	EXPECT_EQ(0, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
}

/* WAS_PURGED is exact: unpinned pages next to purged ones were not purged. */
TEST_F(region, was_purged_is_exact_after_a_merge)
{
	char *map = map_region(self->fd, 4);

	ASSERT_TRUE(map != MAP_FAILED);
	memset(map, 'a', 4 * page);
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, 0, 2 * page));
	ASSERT_LE(2, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, 2 * page, 2 * page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(self->fd, ASHMEM_PIN, 2 * page, 2 * page));
	EXPECT_EQ('a', map[2 * page]);
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(self->fd, ASHMEM_PIN, 0, 2 * page));
	munmap(map, 4 * page);
}

/* A purge takes unpinned pages only: a pinned region keeps all its data. */
TEST_F(region, purge_all_caches_spares_pinned_regions)
{
	char *pinned = map_region(self->fd, 2), *unpinned;
	int fd = open(ASHMEM_DEV, O_RDWR);

	ASSERT_TRUE(pinned != MAP_FAILED);
	ASSERT_LE(0, fd);
	unpinned = unpin_middle(fd);
	ASSERT_TRUE(unpinned != MAP_FAILED);
	memset(pinned, 'k', 2 * page);
	EXPECT_EQ(2, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(self->fd, ASHMEM_PIN, 0, 0));
	EXPECT_EQ('k', pinned[0]);
	EXPECT_EQ('k', pinned[2 * page - 1]);
	expect_middle_purged(_metadata, fd, unpinned);
	munmap(unpinned, 4 * page);
	close(fd);
	munmap(pinned, 2 * page);
}

/*
 * Free pages the per-CPU lists hold, in kB, or -1. They are not in
 * MemAvailable, and after heavy freeing 6.12 lets those lists grow to about
 * an eighth of each zone, split across the CPUs. Direct reclaim drains them
 * for a hog when what it reclaimed is not enough.
 */
static long per_cpu_free_kb(void)
{
	char key[32];
	long count, total = -1;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%31s", key) == 1)
		if (!strcmp(key, "count:") && fscanf(f, "%ld", &count) == 1)
			total = (total < 0 ? 0 : total) + count;
	fclose(f);
	return total < 0 ? -1 : total * (page / 1024);
}

/*
 * Real memory pressure: a child touches more anonymous memory than is
 * free or reclaimable otherwise, by half the unpinned part of a region. Only
 * the shrinker can make up the difference (without swap), so it must purge,
 * and nothing may be OOM-killed. Pinned pages keep their data; purged ones
 * read zeros. Per-CPU free pages count up to a quarter of the unpinned part:
 * if kswapd keeps up, nothing drains them and the purge must cover them too.
 */
TEST_F_TIMEOUT(region, reclaim_under_memory_pressure, 180)
{
	const long pages = (256L << 20) / page, pinned = 16, unpinned = pages - pinned;
	long available, per_cpu, oom_kills, intact = 0, zero = 0, i;
	uint64_t len;
	int status;
	pid_t child;
	char *map;

	if (meminfo_kb("SwapTotal:") > 0)
		SKIP(return, "swap would take memory pressure off the shrinker");
	oom_kills = vmstat_counter("oom_kill");
	if (oom_kills < 0)
		SKIP(return, "no oom_kill counter in /proc/vmstat");
	map = map_region(self->fd, pages);
	ASSERT_TRUE(map != MAP_FAILED);
	memset(map, 'p', pages * page);
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, pinned * page, 0));
	available = meminfo_kb("MemAvailable:");
	ASSERT_LT(0, available);
	per_cpu = per_cpu_free_kb();
	ASSERT_LE(0, per_cpu);
	if (per_cpu > unpinned / 4 * (page / 1024))
		per_cpu = unpinned / 4 * (page / 1024);
	len = ((uint64_t)available + per_cpu) * 1024 + (uint64_t)unpinned * page / 2;
	/* A 32-bit hog maps it in one piece, below 3 GiB. */
	if (sizeof(size_t) < sizeof(len) && len > (3ULL << 30) - pages * page)
		SKIP(return, "the hog would need %llu MiB, more than a 32-bit process maps",
		     (unsigned long long)(len >> 20));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0)
		_exit(touch_anonymous(len, page) == MAP_FAILED ? 2 : 0);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, status) TH_LOG("the memory hog ended with status %#x", status);
	EXPECT_EQ(oom_kills, vmstat_counter("oom_kill"));
	for (i = 0; i < pinned; i++)
		intact += map[i * page] == 'p' && map[(i + 1) * page - 1] == 'p';
	EXPECT_EQ(pinned, intact);
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(self->fd, ASHMEM_PIN, pinned * page, 0));
	/* Each unpinned page was either purged whole or kept whole. */
	for (i = pinned; i < pages; i++) {
		if (page_is_zero(map, i))
			zero++;
		else
			intact += map[i * page] == 'p' && map[(i + 1) * page - 1] == 'p';
	}
	EXPECT_EQ(pages, intact + zero);
	EXPECT_LE(unpinned / 4, zero)
		TH_LOG("only %ld pages were purged (MemAvailable %ld kB, per-CPU lists %ld kB)",
		       zero, available, per_cpu);
	munmap(map, pages * page);
}

TEST_F(region, unknown_command_is_enotty)
{
	EXPECT_EQ(-ENOTTY, ash(self->fd, _IO(__ASHMEMIOC, 12), 0));
	EXPECT_EQ(-ENOTTY, ash(self->fd, _IO('x', 1), 0));
}

TEST_HARNESS_MAIN
