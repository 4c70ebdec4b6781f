// SPDX-License-Identifier: GPL-2.0
/*
 * One regression test for each class of bug that ashmem drivers have
 * shipped: a permission bypass by remapping (CVE-2020-0009), mappings of
 * the wrong size, deadlocks between mmap_lock, the region lock and the
 * shmem inode lock, races between SET_SIZE/SET_NAME and the first mmap,
 * races between pin ioctls and the shrinker, and purges that split large
 * shmem folios.
 *
 * The concurrent tests run a fixed number of iterations; a hang fails them
 * through the harness timeout. Each also fails if the kernel logs a lockdep
 * report, a warning or a BUG while it runs (on a debug kernel, lockdep
 * reports an inverted lock order even when the threads never deadlock).
 * Needs an ashmem driver and root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ashmem.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "ashmem_util.h"

static long page;

FIXTURE(region) {
	int fd;
	int kmsg;
};

FIXTURE_SETUP(region)
{
	page = sysconf(_SC_PAGESIZE);
	self->fd = open(ASHMEM_DEV, O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", ASHMEM_DEV, strerror(errno));
	/* Only the records logged from now on are read back. */
	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, self->kmsg) TH_LOG("open /dev/kmsg: %s", strerror(errno));
	ASSERT_LE(0, lseek(self->kmsg, 0, SEEK_END));
}

FIXTURE_TEARDOWN(region)
{
	close(self->kmsg);
	close(self->fd);
}

/* The number of kernel reports logged since 'kmsg' was opened; prints them. */
static int kernel_reports(int kmsg)
{
	static const char *const kinds[] = {
		"possible circular locking", "possible recursive locking",
		"inconsistent lock state", "lock held when returning",
		"BUG:", "WARNING:", "INFO: task", "Oops", "KASAN",
	};
	char rec[8192];
	int reports = 0;
	ssize_t n;

	for (;;) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: read on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
			if (strstr(rec, kinds[i])) {
				char *text = strchr(rec, ';');

				fprintf(stderr, "# kernel: %s", text ? text + 1 : rec);
				reports++;
				break;
			}
	}
	return reports;
}

/*
 * CVE-2020-0009: remap_file_pages() rebuilt a mapping through the backing
 * shmem file's own mmap, which skipped the protection mask and set
 * VM_MAYWRITE again, so that mprotect() could then make a read-only region
 * writable. The backing file must refuse that mmap.
 */
TEST_F(region, cve_2020_0009_remap_cannot_bypass_the_prot_mask)
{
	char *map, *second;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, 2 * page));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	map = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	EXPECT_EQ(-1, remap_file_pages(map, page, 0, 1, 0));
	EXPECT_EQ(EPERM, errno);
	/* No page became writable: the remapped one is gone, the other kept its limits. */
	EXPECT_EQ(-1, mprotect(map, page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(-1, mprotect(map + page, page, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* Nor does a second mapping or an mremap() of the first. */
	second = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_TRUE(second == MAP_FAILED);
	EXPECT_EQ(EPERM, errno);
	map = mremap(map + page, page, 2 * page, MREMAP_MAYMOVE);
	if (map != MAP_FAILED) {
		EXPECT_EQ(-1, mprotect(map, page, PROT_READ | PROT_WRITE));
		EXPECT_EQ(EACCES, errno);
		munmap(map, 2 * page);
	}
	EXPECT_EQ(0, kernel_reports(self->kmsg));
}

/*
 * Mappings longer than the region, of a region without a size, and sizes
 * whose page rounding overflows (PAGE_ALIGN() of a size near ULONG_MAX is
 * 0 in C) must all be refused, so that no mapping reaches past the file.
 */
TEST_F(region, mmap_size_is_validated)
{
	int fd2 = open(ASHMEM_DEV, O_RDWR);
	char *map;

	ASSERT_LE(0, fd2);
	/* No size yet. */
	EXPECT_TRUE(mmap(NULL, page, PROT_READ, MAP_SHARED, self->fd, 0) == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	/* One byte over a page rounds up to two pages, and no further. */
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, page + 1));
	EXPECT_TRUE(mmap(NULL, 3 * page, PROT_READ, MAP_SHARED, self->fd, 0) == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	map = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	/* Mapped: the size is fixed, and no later mapping may be longer. */
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_SIZE, 8 * page));
	EXPECT_TRUE(mmap(NULL, 3 * page, PROT_READ, MAP_SHARED, self->fd, 0) == MAP_FAILED);
	EXPECT_EQ(EINVAL, errno);
	munmap(map, 2 * page);
	if (sizeof(long) == 8) {
		/* Sizes whose rounding to pages overflows. */
		EXPECT_EQ(0, ash(fd2, ASHMEM_SET_SIZE, ULONG_MAX));
		EXPECT_TRUE(mmap(NULL, page, PROT_READ, MAP_SHARED, fd2, 0) == MAP_FAILED);
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, ash(fd2, ASHMEM_SET_SIZE, ULONG_MAX - page + 2));
		EXPECT_TRUE(mmap(NULL, page, PROT_READ, MAP_SHARED, fd2, 0) == MAP_FAILED);
		EXPECT_EQ(EINVAL, errno);
	} else {
		/*
		 * A 32-bit size cannot overflow a 64-bit kernel's rounding: the
		 * mapping is refused only if the 4 GiB file cannot be charged.
		 */
		EXPECT_EQ(0, ash(fd2, ASHMEM_SET_SIZE, UINT_MAX));
		map = mmap(NULL, page, PROT_READ, MAP_SHARED, fd2, 0);
		if (map == MAP_FAILED) {
			EXPECT_EQ(ENOMEM, errno);
		} else {
			EXPECT_EQ(0, map[0]);
			munmap(map, page);
		}
	}
	close(fd2);
	EXPECT_EQ(0, kernel_reports(self->kmsg));
}

#define LOCK_PAGES 16
#define LOCK_ITERATIONS 1500

struct lock_test {
	int fd;			/* region A, mapped */
	int named;		/* region B, never mapped */
	char *map;		/* region A's mapping */
	long errors;		/* unexpected results, by every thread */
};

static void unexpected(struct lock_test *t, const char *what, long ret)
{
	__atomic_add_fetch(&t->errors, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "# %s: %ld\n", what, ret);
}

/* Drops the page tables of region A's page 'n': the next access faults into shmem. */
static char *unfaulted(struct lock_test *t, int n)
{
	char *p = t->map + (long)n * page;

	madvise(p, page, MADV_DONTNEED);
	return p;
}

/*
 * ioctls whose user buffers lie in region A's own unfaulted pages: the
 * copies fault into A's shmem file (mmap_lock, then the folio lock), so a
 * driver that copies while holding the region lock inverts the order that
 * mmap() (mmap_lock, then the region lock) sets.
 */
static void *lock_ioctls(void *arg)
{
	struct lock_test *t = arg;
	struct ashmem_pin *pin;
	long ret;

	for (int i = 0; i < LOCK_ITERATIONS; i++) {
		memcpy(t->map, "from-a-mapping", sizeof("from-a-mapping"));
		ret = ash(t->named, ASHMEM_SET_NAME, (unsigned long)unfaulted(t, 0));
		if (ret)
			unexpected(t, "SET_NAME of the unmapped region", ret);
		/* Region A is mapped: the name is copied first, then refused. */
		ret = ash(t->fd, ASHMEM_SET_NAME, (unsigned long)unfaulted(t, 0));
		if (ret != -EINVAL)
			unexpected(t, "SET_NAME of the mapped region", ret);
		ret = ash(t->fd, ASHMEM_GET_NAME, (unsigned long)unfaulted(t, 1));
		if (ret)
			unexpected(t, "GET_NAME", ret);
		ret = ash(t->fd, ASHMEM_GET_FILE_ID, (unsigned long)unfaulted(t, 2));
		if (ret)
			unexpected(t, "GET_FILE_ID", ret);
		/* The pin argument itself lives in page 15, which stays pinned. */
		pin = (struct ashmem_pin *)(t->map + (LOCK_PAGES - 1) * page);
		pin->offset = 4 * page;
		pin->len = 4 * page;
		unfaulted(t, LOCK_PAGES - 1);
		ret = ash(t->fd, i % 2 ? ASHMEM_PIN : ASHMEM_UNPIN, (unsigned long)pin);
		if (ret != 0 && ret != ASHMEM_WAS_PURGED)
			unexpected(t, "PIN/UNPIN", ret);
		unfaulted(t, LOCK_PAGES - 1);
		ret = ash(t->fd, ASHMEM_GET_PIN_STATUS, (unsigned long)pin);
		if (ret != ASHMEM_IS_PINNED && ret != ASHMEM_IS_UNPINNED)
			unexpected(t, "GET_PIN_STATUS", ret);
	}
	return NULL;
}

/* mmap() takes the region lock under mmap_lock; munmap() and mprotect() take mmap_lock. */
static void *lock_mappers(void *arg)
{
	struct lock_test *t = arg;

	for (int i = 0; i < LOCK_ITERATIONS; i++) {
		char *map = mmap(NULL, LOCK_PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED,
				 t->fd, 0);

		if (map == MAP_FAILED) {
			unexpected(t, "mmap", -errno);
			continue;
		}
		/* Pages 4 to 7 only: the others hold the ioctls' arguments. */
		map[(4 + i % 4) * page] = 1;
		if (mprotect(map, page, PROT_READ))
			unexpected(t, "mprotect", -errno);
		munmap(map, LOCK_PAGES * page);
	}
	return NULL;
}

/* read() copies from A's shmem file into A's own unfaulted pages. */
static void *lock_readers(void *arg)
{
	struct lock_test *t = arg;

	for (int i = 0; i < LOCK_ITERATIONS; i++) {
		char *dest = unfaulted(t, 9 + i % 4);
		ssize_t n;

		unfaulted(t, 10 + i % 4);
		n = pread(t->fd, dest, 2 * page, (i % LOCK_PAGES) * page);
		if (n < 0)
			unexpected(t, "pread", -errno);
		if (lseek(t->fd, page, SEEK_SET) != page)
			unexpected(t, "lseek", -errno);
	}
	return NULL;
}

/*
 * The shrinker (PURGE_ALL_CACHES, drop_caches) punches holes, which takes
 * the inode lock and the mapping's rmap lock, while MADV_REMOVE punches
 * the same file from userspace.
 */
static void *lock_purgers(void *arg)
{
	struct lock_test *t = arg;
	int drop = open("/proc/sys/vm/drop_caches", O_WRONLY);

	for (int i = 0; i < LOCK_ITERATIONS / 4; i++) {
		long ret = ash(t->fd, ASHMEM_PURGE_ALL_CACHES, 0);

		if (ret < 0)
			unexpected(t, "PURGE_ALL_CACHES", ret);
		if (drop >= 0 && pwrite(drop, "2", 1, 0) != 1)
			unexpected(t, "drop_caches", -errno);
		if (madvise(t->map + 5 * page, 2 * page, MADV_REMOVE))
			unexpected(t, "MADV_REMOVE", -errno);
	}
	if (drop >= 0)
		close(drop);
	return NULL;
}

/*
 * syzbot found ashmem deadlocks between mmap_lock, the ashmem mutex and
 * the shmem inode lock: copies to and from userspace under the ashmem
 * mutex, and fallocate() from the shrinker under it. Run every path that
 * takes two of them at once.
 */
TEST_F_TIMEOUT(region, lock_order_of_mmap_lock_region_and_inode, 300)
{
	void *(*const roles[])(void *) = { lock_ioctls, lock_mappers, lock_readers, lock_purgers };
	pthread_t threads[4];
	struct lock_test t = { .fd = self->fd };
	char name[ASHMEM_NAME_LEN];

	t.named = open(ASHMEM_DEV, O_RDWR);
	ASSERT_LE(0, t.named);
	ASSERT_EQ(0, ash(t.fd, ASHMEM_SET_SIZE, LOCK_PAGES * page));
	t.map = mmap(NULL, LOCK_PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, t.fd, 0);
	ASSERT_TRUE(t.map != MAP_FAILED);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, roles[i], &t));
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	EXPECT_EQ(0, t.errors);
	/* The name written from a mapping arrived whole. */
	ASSERT_EQ(0, ash(t.named, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ("from-a-mapping", name);
	munmap(t.map, LOCK_PAGES * page);
	close(t.named);
	EXPECT_EQ(0, kernel_reports(self->kmsg));
}

#define RACE_ROUNDS 400

struct first_mmap_race {
	int fd;
	pthread_barrier_t start;
	long size_ret, name_ret;
};

static void *race_set_size_and_name(void *arg)
{
	struct first_mmap_race *r = arg;

	pthread_barrier_wait(&r->start);
	r->size_ret = ash(r->fd, ASHMEM_SET_SIZE, 4 * page);
	r->name_ret = ash(r->fd, ASHMEM_SET_NAME, (unsigned long)"raced");
	return NULL;
}

/* The name /proc/self/maps gives the mapping at 'addr', or "" if none. */
static void mapping_name(void *addr, char *name, size_t size)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/maps", "r");

	name[0] = '\0';
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (f && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (strncmp(line, want, strlen(want)) || !path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		snprintf(name, size, "%s", path);
	}
	if (f)
		fclose(f);
}

/*
 * The C driver once read the size and name without its mutex while the
 * first mmap created the backing file from them, so a racing SET_SIZE or
 * SET_NAME could succeed and yet not apply to the file. Whichever side
 * wins, the file must match what the ioctls reported.
 */
TEST_F_TIMEOUT(region, set_size_and_name_race_the_first_mmap, 300)
{
	int won[2] = { 0, 0 };

	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct first_mmap_race r = { .fd = open(ASHMEM_DEV, O_RDWR) };
		pthread_t thread;
		char name[256];
		char *map;

		ASSERT_LE(0, r.fd);
		ASSERT_EQ(0, ash(r.fd, ASHMEM_SET_SIZE, 2 * page));
		ASSERT_EQ(0, pthread_barrier_init(&r.start, NULL, 2));
		ASSERT_EQ(0, pthread_create(&thread, NULL, race_set_size_and_name, &r));
		pthread_barrier_wait(&r.start);
		map = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, r.fd, 0);
		ASSERT_TRUE(map != MAP_FAILED);
		pthread_join(thread, NULL);
		pthread_barrier_destroy(&r.start);

		/* Each ioctl either applied before the file was made, or failed. */
		ASSERT_TRUE(r.size_ret == 0 || r.size_ret == -EINVAL) TH_LOG("%ld", r.size_ret);
		ASSERT_TRUE(r.name_ret == 0 || r.name_ret == -EINVAL) TH_LOG("%ld", r.name_ret);
		EXPECT_EQ(r.size_ret ? 2 * page : 4 * page, ash(r.fd, ASHMEM_GET_SIZE, 0));
		/* The backing file has the size the region reports. */
		EXPECT_EQ(ash(r.fd, ASHMEM_GET_SIZE, 0), lseek(r.fd, 0, SEEK_END));
		mapping_name(map, name, sizeof(name));
		EXPECT_STREQ(r.name_ret ? "/dev/ashmem (deleted)" : "/dev/ashmem/raced (deleted)",
			     name);
		won[r.size_ret == 0]++;
		munmap(map, 2 * page);
		close(r.fd);
	}
	TH_LOG("%d rounds: SET_SIZE first %d times, mmap first %d times", RACE_ROUNDS, won[1],
	       won[0]);
	EXPECT_EQ(0, kernel_reports(self->kmsg));
}

#define PIN_THREADS 3
#define PIN_PAGES 16
#define PIN_ROUNDS 3000

struct pin_race {
	int fd;
	char *map;
	int id;
	int *stop;
	long pins, purged, purges, violations;
};

static void pin_violation(struct pin_race *w, const char *what, int round, int n)
{
	w->violations++;
	fprintf(stderr, "# thread %d, round %d, page %d: %s\n", w->id, round, n, what);
}

/*
 * Unpin, pin and check a range of pages of one's own. A pin that reports
 * NOT_PURGED must find every page as written; one that reports WAS_PURGED
 * must find a zero page; a pinned page must never change afterwards (no
 * purge that was in flight may land after the pin returned).
 */
static void *pin_worker(void *arg)
{
	struct pin_race *w = arg;
	long first = (long)w->id * PIN_PAGES;

	for (int round = 0; round < PIN_ROUNDS; round++) {
		unsigned char stamp = 1 + (round + w->id) % 250;
		long ret;
		int zero = 0, reported;

		for (int n = 0; n < PIN_PAGES; n++)
			memset(w->map + (first + n) * page, stamp, page);
		if (pin_op(w->fd, ASHMEM_UNPIN, first * page, PIN_PAGES * page))
			pin_violation(w, "UNPIN failed", round, 0);
		if (round % 3)
			sched_yield();
		ret = pin_op(w->fd, ASHMEM_PIN, first * page, PIN_PAGES * page);
		if (ret != ASHMEM_NOT_PURGED && ret != ASHMEM_WAS_PURGED) {
			pin_violation(w, "PIN failed", round, 0);
			continue;
		}
		w->pins++;
		for (int n = 0; n < PIN_PAGES; n++) {
			unsigned char *p = (unsigned char *)w->map + (first + n) * page;

			if (p[0] == 0 && p[page - 1] == 0)
				zero = 1;
			else if (p[0] != stamp || p[page - 1] != stamp)
				pin_violation(w, "neither the data nor zeros", round, n);
		}
		reported = ret == ASHMEM_WAS_PURGED;
		if (zero != reported)
			pin_violation(w, zero ? "zeros without WAS_PURGED" :
						"WAS_PURGED without a purged page", round, 0);
		w->purged += zero;
		/* Pinned now: write, let the purger run, and read back. */
		for (int n = 0; n < PIN_PAGES; n++)
			memset(w->map + (first + n) * page, stamp, page);
		sched_yield();
		for (int n = 0; n < PIN_PAGES; n++)
			if (w->map[(first + n) * page + page / 2] != (char)stamp)
				pin_violation(w, "a pinned page changed", round, n);
	}
	return NULL;
}

static void *pin_purger(void *arg)
{
	struct pin_race *w = arg;
	int drop = open("/proc/sys/vm/drop_caches", O_WRONLY);

	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
		if (w->purges++ % 4 == 3 && drop >= 0) {
			if (pwrite(drop, "2", 1, 0) != 1)
				w->violations++;
		} else if (ash(w->fd, ASHMEM_PURGE_ALL_CACHES, 0) < 0) {
			w->violations++;
		}
	}
	if (drop >= 0)
		close(drop);
	return NULL;
}

/*
 * Races between pin ioctls and the shrinker: the C driver once lost the
 * "purged" mark of a range being pinned while the shrinker purged it, and
 * pinners must wait for a purge already punching their pages.
 */
TEST_F_TIMEOUT(region, pin_ioctls_race_the_shrinker, 300)
{
	struct pin_race workers[PIN_THREADS], purger;
	pthread_t threads[PIN_THREADS], purge_thread;
	long pins = 0, purged = 0, violations = 0;
	char *map;
	int stop = 0;

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, PIN_THREADS * PIN_PAGES * page));
	map = mmap(NULL, PIN_THREADS * PIN_PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED,
		   self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	purger = (struct pin_race){ .fd = self->fd, .stop = &stop };
	ASSERT_EQ(0, pthread_create(&purge_thread, NULL, pin_purger, &purger));
	for (int i = 0; i < PIN_THREADS; i++) {
		workers[i] = (struct pin_race){ .fd = self->fd, .map = map, .id = i };
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, pin_worker, &workers[i]));
	}
	for (int i = 0; i < PIN_THREADS; i++) {
		pthread_join(threads[i], NULL);
		pins += workers[i].pins;
		purged += workers[i].purged;
		violations += workers[i].violations;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(purge_thread, NULL);
	TH_LOG("%ld pins, %ld found purged pages, %ld purges", pins, purged, purger.purges);
	EXPECT_EQ(0, violations);
	EXPECT_EQ(0, purger.violations);
	EXPECT_EQ(PIN_THREADS * PIN_ROUNDS, pins);
	/* The race was run: some pins found their pages purged. */
	EXPECT_LT(0, purged);
	munmap(map, PIN_THREADS * PIN_PAGES * page);
	EXPECT_EQ(0, kernel_reports(self->kmsg));
}

/* The first number in file 'path', or -1. */
static long read_number(const char *path)
{
	FILE *f = fopen(path, "r");
	long value = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

/* Writes 'value' to the file at 'path'; returns whether all of it was written. */
static bool write_string(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t len = (ssize_t)strlen(value);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, value, len) == len;
	close(fd);
	return ok;
}

/* Whether shmem_enabled selects huge folios for every shmem file. */
static bool shmem_huge_always(void)
{
	char setting[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");

	if (!f)
		return false;
	if (!fgets(setting, sizeof(setting), f))
		setting[0] = '\0';
	fclose(f);
	return strstr(setting, "[always]") || strstr(setting, "[force]");
}

/* Pages of each huge folio that the test unpins and purges (or removes): 3 to 7. */
#define SPLIT_FIRST 3
#define SPLIT_PAGES 5

/* Whether the backing file has a hole exactly at [start, end) of the region. */
static bool hole_at(int fd, off_t start, off_t end)
{
	return lseek(fd, start, SEEK_HOLE) == start && lseek(fd, start, SEEK_DATA) == end;
}

/*
 * A purge that punches a hole in part of a huge shmem folio splits it,
 * which allocates under the backing inode's lock. Reclaim entering the
 * shrinker there must not wait for that lock, which may be its own: the
 * purge try-locks it. Both ways of purging (PURGE_ALL_CACHES and the
 * shrinker) must split, lose no other page, and report the purge; so must
 * a MADV_REMOVE of part of a folio, which punches under the same lock with
 * the region's own allocations. A hole where the folio was (SEEK_HOLE)
 * shows that it was split, not zeroed in place. Lockdep, watching the
 * whole run, reports any reclaim that takes the inode lock blocking under
 * fs_reclaim. Skipped unless shmem_enabled is "always" (the test VM's
 * /init sets it). Needs root: it drops caches and compacts memory.
 */
TEST_F(region, purges_split_large_folios)
{
	long huge = read_number("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
	long huge_kb, splits, splits_after, failed, lost = 0;
	size_t size;
	char *reserve, *map;

	if (huge <= 0 || !shmem_huge_always())
		SKIP(return, "shmem does not use huge folios here");
	/* Free and compact memory first, so that the faults find free huge pages. */
	ASSERT_TRUE(write_string("/proc/sys/vm/drop_caches", "3"));
	ASSERT_TRUE(write_string("/proc/sys/vm/compact_memory", "1"));
	/* Three huge folios, mapped at a huge-aligned address so faults can use them. */
	size = 3 * huge;
	reserve = mmap(NULL, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(reserve != MAP_FAILED);
	map = (char *)(((uintptr_t)reserve + huge - 1) & ~(uintptr_t)(huge - 1));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_SIZE, size));
	ASSERT_TRUE(map == mmap(map, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				self->fd, 0));
	huge_kb = meminfo_kb("ShmemHugePages:");
	for (size_t off = 0; off < size; off += page)
		memset(map + off, (int)(off / page) | 1, page);
	TH_LOG("ShmemHugePages: %ld kB before the writes, %ld kB after",
	       huge_kb, meminfo_kb("ShmemHugePages:"));
	ASSERT_LE(huge_kb + 3 * huge / 1024, meminfo_kb("ShmemHugePages:"));
	/*
	 * A split fails, and the kernel zeroes in place instead, while anyone
	 * else holds a reference to the folio. khugepaged takes one when the
	 * punch leaves the folio mapped by PTEs and it tries to map it by PMD
	 * again: keep it away from this mapping.
	 */
	ASSERT_EQ(0, madvise(map, size, MADV_NOHUGEPAGE));

	splits = vmstat_counter("thp_split_page");
	failed = vmstat_counter("thp_split_page_failed");
	/* Pages in the middle of the first folio, purged by PURGE_ALL_CACHES... */
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, SPLIT_FIRST * page, SPLIT_PAGES * page));
	ASSERT_LE(SPLIT_PAGES, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	/* ...of the second, by the shrinker through drop_caches... */
	ASSERT_EQ(0, pin_op(self->fd, ASHMEM_UNPIN, huge + SPLIT_FIRST * page,
			    SPLIT_PAGES * page));
	ASSERT_TRUE(write_string("/proc/sys/vm/drop_caches", "2"));
	/* ...and of the third, removed by the application itself. */
	ASSERT_EQ(0, madvise(map + 2 * huge + SPLIT_FIRST * page, SPLIT_PAGES * page,
			     MADV_REMOVE));
	splits_after = vmstat_counter("thp_split_page");
	TH_LOG("thp_split_page: %ld before the purges, %ld after; thp_split_page_failed: %ld more",
	       splits, splits_after, vmstat_counter("thp_split_page_failed") - failed);
	EXPECT_LE(splits + 3, splits_after);
	for (int n = 0; n < 3; n++) {
		off_t start = n * huge + SPLIT_FIRST * page;

		EXPECT_TRUE(hole_at(self->fd, start, start + SPLIT_PAGES * page))
			TH_LOG("no hole in huge folio %d", n);
	}

	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(self->fd, ASHMEM_PIN, SPLIT_FIRST * page,
					    SPLIT_PAGES * page));
	EXPECT_EQ(ASHMEM_WAS_PURGED, pin_op(self->fd, ASHMEM_PIN, huge + SPLIT_FIRST * page,
					    SPLIT_PAGES * page));
	for (size_t off = 0; off < size; off += page) {
		size_t n = (off % huge) / page;
		bool gone = n >= SPLIT_FIRST && n < SPLIT_FIRST + SPLIT_PAGES;
		char want = gone ? 0 : (char)((int)(off / page) | 1);

		for (long i = 0; i < page; i++)
			lost += map[off + i] != want;
	}
	EXPECT_EQ(0, lost);
	munmap(reserve, size + huge);
	EXPECT_EQ(0, kernel_reports(self->kmsg));
}

TEST_HARNESS_MAIN
