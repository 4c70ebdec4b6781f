// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress with data integrity for /dev/ashmem. Four threads pin,
 * unpin, query and fault their own pages of shared regions (so that the
 * regions' ranges and the purge order are changed concurrently), a fifth
 * purges (PURGE_ALL_CACHES and drop_caches), a sixth creates, maps, unpins
 * and closes regions of its own, and a child process keeps memory tight so
 * that reclaim runs the shrinker too.
 *
 * Integrity: a pinned page always holds the pattern last written to it; an
 * unpinned page holds it or zeros; and a pin reports WAS_PURGED exactly when
 * one of its pages reads zeros.
 *
 * Usage: ashmem_stress [-s SEED] [-n OPERATIONS PER THREAD].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "ashmem_util.h"

#define REGIONS 4
#define WORKERS 4
#define CHUNK 16			/* pages each worker owns in each region */
#define PAGES (WORKERS * CHUNK)

static long page;
static int fds[REGIONS];
static char *maps[REGIONS];
static int stop;		/* read and written with __atomic builtins */
static unsigned long operations = 20000;
static uint64_t seed;

struct worker {
	int id;
	uint64_t state;
	unsigned long ops, pins, purged, violations;
	/* Per region and owned page: unpinned?, and the byte last written. */
	char unpinned[REGIONS][CHUNK];
	unsigned char stamp[REGIONS][CHUNK];
};

static void violation(struct worker *w, const char *what, int r, int first, int count)
{
	w->violations++;
	ksft_print_msg("worker %d, op %lu: %s (region %d, pages %d..%d)\n", w->id, w->ops, what, r,
		       first, first + count);
}

/* The region page number of the worker's page 'i'. */
static int region_page(struct worker *w, int i)
{
	return w->id * CHUNK + i;
}

/* The worker's page 'i' of region 'r'. */
static unsigned char *owned(struct worker *w, int r, int i)
{
	return (unsigned char *)maps[r] + (long)region_page(w, i) * page;
}

static void worker_op(struct worker *w)
{
	int r = xorshift64(&w->state) % REGIONS, first = xorshift64(&w->state) % CHUNK;
	int count = 1 + xorshift64(&w->state) % (CHUNK - first), op = xorshift64(&w->state) % 8;
	long offset = (long)region_page(w, first) * page, len = (long)count * page, ret;
	int any_unpinned = 0, zero = 0, reported;

	for (int i = first; i < first + count; i++)
		any_unpinned |= w->unpinned[r][i];
	if (op < 3) {
		ret = pin_op(fds[r], ASHMEM_PIN, offset, len);
		if (ret < 0) {
			violation(w, "PIN failed", r, first, count);
			return;
		}
		w->pins++;
		for (int i = first; i < first + count; i++) {
			unsigned char *p = owned(w, r, i);

			if (*p == 0 && p[page - 1] == 0) {
				if (!w->unpinned[r][i])
					violation(w, "a pinned page lost its data", r, i, 1);
				zero = 1;
			} else if (*p != w->stamp[r][i] || p[page - 1] != w->stamp[r][i]) {
				violation(w, "a page holds neither its data nor zeros", r, i, 1);
			}
			w->unpinned[r][i] = 0;
			w->stamp[r][i] = 1 + xorshift64(&w->state) % 255;
			memset(p, w->stamp[r][i], page);
		}
		reported = ret == ASHMEM_WAS_PURGED;
		if (reported != zero)
			violation(w, zero ? "zeros not reported by WAS_PURGED" :
					    "WAS_PURGED without a purged page", r, first, count);
		w->purged += zero;
	} else if (op < 6) {
		if (pin_op(fds[r], ASHMEM_UNPIN, offset, len))
			violation(w, "UNPIN failed", r, first, count);
		for (int i = first; i < first + count; i++)
			w->unpinned[r][i] = 1;
	} else if (op < 7) {
		ret = pin_op(fds[r], ASHMEM_GET_PIN_STATUS, offset, len);
		if (ret != (any_unpinned ? ASHMEM_IS_UNPINNED : ASHMEM_IS_PINNED))
			violation(w, "GET_PIN_STATUS disagrees", r, first, count);
	} else {
		/* Fault in and check every pinned page of ours. */
		for (int i = 0; i < CHUNK; i++) {
			unsigned char *p = owned(w, r, i), stamp = w->stamp[r][i];

			if (!w->unpinned[r][i] && (*p != stamp || p[page / 2] != stamp))
				violation(w, "a pinned page changed", r, i, 1);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int r = 0; r < REGIONS; r++)
		for (int i = 0; i < CHUNK; i++) {
			w->stamp[r][i] = 1 + w->id;
			memset(maps[r] + (long)region_page(w, i) * page, w->stamp[r][i], page);
		}
	for (w->ops = 0; w->ops < operations; w->ops++)
		worker_op(w);
	return NULL;
}

static void *purger_main(void *arg)
{
	unsigned long *purges = arg;
	int drop = open("/proc/sys/vm/drop_caches", O_WRONLY);

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		if (*purges % 4 == 3 && drop >= 0) {
			if (pwrite(drop, "2", 1, 0) != 1)
				ksft_print_msg("drop_caches: %s\n", strerror(errno));
		} else if (ioctl(fds[0], ASHMEM_PURGE_ALL_CACHES) < 0) {
			ksft_print_msg("PURGE_ALL_CACHES: %s\n", strerror(errno));
		}
		(*purges)++;
		usleep(1000);
	}
	if (drop >= 0)
		close(drop);
	return NULL;
}

/* Regions that come and go while the others are purged. */
static void *churn_main(void *arg)
{
	unsigned long *cycles = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int fd = open(ASHMEM_DEV, O_RDWR);
		char *map;

		if (fd < 0 || ioctl(fd, ASHMEM_SET_SIZE, 8 * page) < 0)
			break;
		map = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map != MAP_FAILED) {
			memset(map, 0x5a, 8 * page);
			pin_op(fd, ASHMEM_UNPIN, page, 4 * page);
			munmap(map, 8 * page);
		}
		close(fd);
		(*cycles)++;
	}
	return NULL;
}

/* A child that keeps most of the available memory in use, in waves. */
static pid_t start_hog(void)
{
	size_t bytes = (size_t)meminfo_kb("MemAvailable:") * 1024 / 10 * 7;
	pid_t pid = fork();

	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (pid == 0) {
		for (;;) {
			char *mem = touch_anonymous(bytes, page);

			if (mem == MAP_FAILED)
				_exit(2);
			munmap(mem, bytes);
		}
	}
	return pid;
}

/* Starts a thread; if that fails, kills the hog and fails the test. */
static void start_thread(pthread_t *thread, void *(*body)(void *), void *arg, pid_t hog)
{
	int err = pthread_create(thread, NULL, body, arg);

	if (err) {
		kill(hog, SIGKILL);
		ksft_exit_fail_msg("pthread_create: %s\n", strerror(err));
	}
}

int main(int argc, char **argv)
{
	struct worker workers[WORKERS] = { 0 };
	pthread_t threads[WORKERS], purger, churn;
	unsigned long purges = 0, cycles = 0, violations = 0, pins = 0, purged = 0;
	int status;
	pid_t hog;
	time_t start;

	parse_seed_and_count(argc, argv, &seed, &operations);
	page = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	ksft_set_plan(2);
	/* A seed fixes each thread's choices, not how the threads interleave. */
	ksft_print_msg("seed %#llx, %lu operations per worker\n",
		       (unsigned long long)seed, operations);
	for (int r = 0; r < REGIONS; r++) {
		fds[r] = open(ASHMEM_DEV, O_RDWR);
		if (fds[r] < 0 || ioctl(fds[r], ASHMEM_SET_SIZE, PAGES * page) < 0)
			ksft_exit_fail_msg("region: %s\n", strerror(errno));
		maps[r] = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fds[r], 0);
		if (maps[r] == MAP_FAILED)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	}
	hog = start_hog();
	start = time(NULL);
	start_thread(&purger, purger_main, &purges, hog);
	start_thread(&churn, churn_main, &cycles, hog);
	for (int i = 0; i < WORKERS; i++) {
		workers[i].id = i;
		workers[i].state = seed + 0x9e3779b97f4a7c15ull * (i + 1);
		start_thread(&threads[i], worker_main, &workers[i], hog);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(threads[i], NULL);
		violations += workers[i].violations;
		pins += workers[i].pins;
		purged += workers[i].purged;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(purger, NULL);
	pthread_join(churn, NULL);
	kill(hog, SIGKILL);
	waitpid(hog, &status, 0);
	ksft_print_msg("%lu operations in %ld s: %lu pins (%lu found purged pages)\n",
		       operations * WORKERS, (long)(time(NULL) - start), pins, purged);
	ksft_print_msg("%lu purges, %lu regions created and closed\n", purges, cycles);
	ksft_test_result(violations == 0, "integrity: %lu violations\n", violations);
	/* The hog must have been killed by us, not by the OOM killer or a failed mmap. */
	ksft_test_result(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
			 purges > 0 && purged > 0,
			 "the hog ran to the end, and purges happened under the pins\n");
	ksft_finished();
}
