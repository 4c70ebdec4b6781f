// SPDX-License-Identifier: GPL-2.0
/*
 * Leak hunt over many region lifetimes: create, size, map, touch, unpin
 * part, unmap and close a region, over and over. Afterwards, once
 * drop_caches has freed what it can, Shmem in /proc/meminfo must be back
 * where it started: a leaked region or backing file keeps its pages. (Run
 * kmemleak after it to catch leaked objects that hold no pages.)
 *
 * Usage: ashmem_cycles [-n CYCLES]. Needs an ashmem driver and root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "ashmem_util.h"

#define PAGES 4
/* Shmem may move by a few pages for reasons of its own (page cache of tmpfs). */
#define SHMEM_SLACK_PAGES 16

static void write_proc(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	close(fd);
}

/*
 * Shmem once drop_caches has freed what it can. On SMP kernels
 * /proc/meminfo leaves out the per-CPU parts of the counters (tens of pages
 * each); stat_refresh folds them in, so that the figure is exact. A
 * uniprocessor kernel has no per-CPU parts, and no stat_refresh.
 */
static long shmem_after_drop_caches(void)
{
	write_proc("/proc/sys/vm/drop_caches", "3");
	if (access("/proc/sys/vm/stat_refresh", F_OK) == 0)
		write_proc("/proc/sys/vm/stat_refresh", "1");
	else if (errno != ENOENT)
		ksft_exit_fail_msg("/proc/sys/vm/stat_refresh: %s\n", strerror(errno));
	return meminfo_kb("Shmem:");
}

/* One region's life; 0, or the errno of the step that failed. */
static int cycle(long page, unsigned long i)
{
	int fd = open(ASHMEM_DEV, O_RDWR), err = 0;
	char *map;

	if (fd < 0)
		return errno;
	if (ash(fd, ASHMEM_SET_SIZE, PAGES * page)) {
		err = errno;
		goto out;
	}
	map = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = errno;
		goto out;
	}
	for (int n = 0; n < PAGES; n++)
		map[n * page] = (char)i;
	/* Every other region also gets purged before it goes. */
	if (pin_op(fd, ASHMEM_UNPIN, page, 2 * page))
		err = errno;
	else if (i % 2 && ash(fd, ASHMEM_PURGE_ALL_CACHES, 0) < 0)
		err = errno;
	munmap(map, PAGES * page);
out:
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	unsigned long cycles = 100000, done, failed = 0;
	uint64_t unused_seed = 1;
	long page = sysconf(_SC_PAGESIZE), before, after;
	struct timespec t0, t1;
	int err;

	parse_seed_and_count(argc, argv, &unused_seed, &cycles);
	ksft_print_header();
	ksft_set_plan(2);
	before = shmem_after_drop_caches();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (done = 0; done < cycles; done++) {
		err = cycle(page, done);
		if (err && failed++ < 5)
			ksft_print_msg("cycle %lu: %s\n", done, strerror(err));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	after = shmem_after_drop_caches();
	ksft_print_msg("%lu cycles in %.1f s; Shmem: %ld kB before, %ld kB after\n", done,
		       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, before,
		       after);
	ksft_test_result(failed == 0, "%lu create/map/unpin/close cycles, %lu failed\n", done,
			 failed);
	ksft_test_result(before >= 0 && after <= before + SHMEM_SLACK_PAGES * page / 1024,
			 "Shmem back to its start (grew %ld kB, at most %ld allowed)\n",
			 after - before, SHMEM_SLACK_PAGES * page / 1024);
	ksft_finished();
}
