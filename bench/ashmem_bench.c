// SPDX-License-Identifier: GPL-2.0
/*
 * ashmem benchmarks, run as /demo in the release VM by scripts/bench.sh.
 * Each figure is the median of repeats, set against a baseline measured in
 * the same boot. Prints a markdown table.
 *
 * With "bench.mode=icount" on the kernel command line (QEMU's -icount: guest
 * time follows instructions executed) it runs B1-B4, B6 and B7; with
 * "bench.mode=smp" (plain multi-threaded TCG, 2 CPUs) it runs B5, and B7
 * again with both threads running at once. B8 (ashmem ioctls on memfds) and
 * B10 (kernel pins, through samples/rust/rust_ashmem_import.rs) run under
 * -icount; "bench.mode=hook" runs only B9's measurement, which
 * scripts/bench.sh runs on kernels with and without CONFIG_RUST_ASHMEM_MEMFD.
 * B11 gives absolute figures: GET_SIZE, PIN and UNPIN alone, the pair;
 * with "bench.config=anchor" (the kernel of configs/anchor.config, the C
 * driver's benchmark configuration) they are held to issue 21's targets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ash(), pin_op(), meminfo_kb(), touch_pages(), touch_anonymous(): shared with the kselftests. */
#include "ashmem_util.h"
/* The importing sample's interface, for B10. */
#include "ashmem_import.h"

#define REPEATS 9

static long page;
/* "bench.config=anchor": the kernel is the anchor configuration (scripts/bench.sh). */
static int anchor;

static void die(const char *what)
{
	printf("bench: FAILED: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int new_region(const char *name, long size)
{
	int fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open /dev/ashmem");
	if (ash(fd, ASHMEM_SET_NAME, (unsigned long)name) || ash(fd, ASHMEM_SET_SIZE, size))
		die("SET_NAME/SET_SIZE");
	return fd;
}

static char *map_shared(int fd, long size)
{
	char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED)
		die("mmap");
	return map;
}

/* One row of the table. */
static void row(const char *id, const char *what, double ours, const char *unit,
		double base, const char *base_what, const char *target, int met)
{
	printf("| %s | %s | %.0f %s | %s: %.0f %s | %.2fx | %s | %s |\n", id, what, ours, unit,
	       base_what, base, unit, ours / base, target, met ? "met" : "missed");
}

/*
 * B11: absolute figures, with issue 21's target where one is given ('most'
 * non-zero: at most 'most' ns).
 */
static void row_target(const char *id, const char *what, double ours, double most,
		       const char *why)
{
	if (most > 0)
		printf("| %s | %s | %.0f ns | - | - | <= %.0f ns (%s) | %s |\n", id, what, ours, most,
		       why, ours <= most ? "met" : "missed");
	else
		printf("| %s | %s | %.0f ns | - | - | - | - |\n", id, what, ours);
}

/* B1: a region's lifecycle against memfd's. */
static double lifecycle_ashmem(int iterations)
{
	uint64_t t = now_ns();

	for (int i = 0; i < iterations; i++) {
		int fd = new_region("bench", 16 * page);
		char *map = map_shared(fd, 16 * page);

		touch_pages(map, 16 * page, page);
		munmap(map, 16 * page);
		close(fd);
	}
	return (double)(now_ns() - t) / iterations;
}

static double lifecycle_memfd(int iterations)
{
	uint64_t t = now_ns();

	for (int i = 0; i < iterations; i++) {
		int fd = memfd_create("bench", MFD_CLOEXEC);
		char *map;

		if (fd < 0 || ftruncate(fd, 16 * page))
			die("memfd_create/ftruncate");
		map = map_shared(fd, 16 * page);
		touch_pages(map, 16 * page, page);
		munmap(map, 16 * page);
		close(fd);
	}
	return (double)(now_ns() - t) / iterations;
}

static void bench_lifecycle(void)
{
	double a[REPEATS], m[REPEATS];

	lifecycle_ashmem(20);
	lifecycle_memfd(20);
	for (int r = 0; r < REPEATS; r++) {
		a[r] = lifecycle_ashmem(200);
		m[r] = lifecycle_memfd(200);
	}
	double ours = median(a, REPEATS), base = median(m, REPEATS);

	row("B1", "region lifecycle (16 pages touched)", ours, "ns", base, "memfd", "<= 1.05x",
	    ours <= 1.05 * base);
}

/* B2: first-touch faults over 64 MiB. */
static double faults(int fd)
{
	long size = 64L << 20;
	char *map = map_shared(fd, size);
	uint64_t t = now_ns();

	touch_pages(map, size, page);
	t = now_ns() - t;
	munmap(map, size);
	close(fd);
	return (double)t / (size / page);
}

static void bench_faults(void)
{
	double a[5], m[5];
	long size = 64L << 20;

	for (int r = 0; r < 5; r++) {
		int mfd = memfd_create("bench", MFD_CLOEXEC);

		a[r] = faults(new_region("bench", size));
		if (mfd < 0 || ftruncate(mfd, size))
			die("memfd");
		m[r] = faults(mfd);
	}
	double ours = median(a, 5), base = median(m, 5);

	row("B2", "first-touch fault, 64 MiB shared (per page; instructions, not memory latency)",
	    ours, "ns", base, "memfd", "<= 1.02x", ours <= 1.02 * base);
}

/* B3: a PIN+UNPIN pair with n unpinned ranges, against a null ioctl. */
static double pairs(int fd, long at, int count)
{
	uint64_t t = now_ns();

	for (int i = 0; i < count; i++) {
		if (pin_op(fd, ASHMEM_PIN, at, page) < 0 || pin_op(fd, ASHMEM_UNPIN, at, page))
			die("PIN/UNPIN");
	}
	return (double)(now_ns() - t) / count;
}

/*
 * PIN and UNPIN of 'pairs' each timed alone: the clock is read around each,
 * and the cost of reading it (the time between two reads in a row) is taken
 * away.
 */
static void pin_and_unpin(int fd, long at, int count, double *pin, double *unpin)
{
	uint64_t pins = 0, unpins = 0, clock = 0;

	for (int i = 0; i < count; i++) {
		uint64_t t0 = now_ns(), t1, t2, t3;

		if (pin_op(fd, ASHMEM_PIN, at, page) < 0)
			die("PIN");
		t1 = now_ns();
		if (pin_op(fd, ASHMEM_UNPIN, at, page))
			die("UNPIN");
		t2 = now_ns();
		t3 = now_ns();
		pins += t1 - t0;
		unpins += t2 - t1;
		clock += t3 - t2;
	}
	*pin = ((double)pins - clock) / count;
	*unpin = ((double)unpins - clock) / count;
}

static double null_ioctls(int fd, int count)
{
	uint64_t t = now_ns();

	for (int i = 0; i < count; i++)
		if (ash(fd, ASHMEM_GET_SIZE, 0) < 0)
			die("GET_SIZE");
	return (double)(now_ns() - t) / count;
}

static void bench_ranges(void)
{
	const int most = 10000, counts[] = { 1, 10, 100, 1000, 10000 };
	long size = (2L * most + 2) * page;
	int fd = new_region("bench", size), unpinned = 0;
	double v[REPEATS], null_cost, one = 0;
	char what[96];

	map_shared(fd, size);
	for (int r = 0; r < REPEATS; r++)
		v[r] = null_ioctls(fd, 2000);
	null_cost = median(v, REPEATS);
	/* Issue 21's targets hold in the anchor configuration, the C driver's. */
	if (anchor)
		row_target("B11", "ASHMEM_GET_SIZE ioctl", null_cost, 624, "C driver 594 ns + 5%");
	else
		row_target("B11", "ASHMEM_GET_SIZE ioctl", null_cost, 0, NULL);
	for (unsigned int c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		int n = counts[c];

		while (unpinned < n) {
			if (pin_op(fd, ASHMEM_UNPIN, 2L * unpinned * page, page))
				die("UNPIN");
			unpinned++;
		}
		for (int end = 0; end < 2; end++) {
			long at = end ? 2L * (n - 1) * page : 0;
			double ours;

			for (int r = 0; r < REPEATS; r++)
				v[r] = pairs(fd, at, 500);
			ours = median(v, REPEATS);
			if (n == 1 && !end) {
				double p[REPEATS], u[REPEATS];

				one = ours;
				for (int r = 0; r < REPEATS; r++)
					pin_and_unpin(fd, at, 500, &p[r], &u[r]);
				row_target("B11", "PIN alone, 1 unpinned range", median(p, REPEATS), 0, NULL);
				row_target("B11", "UNPIN alone, 1 unpinned range", median(u, REPEATS), 0, NULL);
				/* Release: the 29-patch series' figure + 2% (issue 20). */
				row_target("B11", "PIN+UNPIN pair, 1 unpinned range", ours,
					   anchor ? 2900 : 3248,
					   anchor ? "C driver's pair" : "3184 ns before kernel pins, + 2%");
			}
			if (n == most && !end)
				row_target("B11", "PIN+UNPIN pair, 10000 unpinned ranges", ours,
					   anchor ? 6950 : 5873,
					   anchor ? "6906 ns before issue 21, + 0.6%" :
						    "5758 ns before kernel pins, + 2%");
			snprintf(what, sizeof(what), "PIN+UNPIN pair, %d unpinned ranges, %s offset", n,
				 end ? "highest" : "lowest");
			/*
			 * Ratios are reported, not held to targets (issue 21): a
			 * cheaper ioctl or 1-range pair moves them either way.
			 * B11 holds the pairs to absolute figures.
			 */
			printf("| B3 | %s | %.0f ns | null ioctl: %.0f ns | %.2fx | - | -; %.2fx the 1-range pair |\n",
			       what, ours, null_cost, ours / null_cost, ours / one);
		}
	}
	close(fd);
}

/* B4: PURGE_ALL_CACHES over 128 MiB against punching a hole in a memfd. */
static void bench_purge(void)
{
	long size = 128L << 20;
	double a[5], m[5];

	for (int r = 0; r < 5; r++) {
		int fd = new_region("bench", size), mfd = memfd_create("bench", MFD_CLOEXEC);
		char *map = map_shared(fd, size), *mmap_fd;
		uint64_t t;

		touch_pages(map, size, page);
		if (pin_op(fd, ASHMEM_UNPIN, 0, 0))
			die("UNPIN");
		t = now_ns();
		if (ash(fd, ASHMEM_PURGE_ALL_CACHES, 0) < size / page)
			die("PURGE_ALL_CACHES");
		a[r] = now_ns() - t;
		munmap(map, size);
		close(fd);

		if (mfd < 0 || ftruncate(mfd, size))
			die("memfd");
		mmap_fd = map_shared(mfd, size);
		touch_pages(mmap_fd, size, page);
		t = now_ns();
		if (fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size))
			die("fallocate");
		m[r] = now_ns() - t;
		munmap(mmap_fd, size);
		close(mfd);
	}
	double ours = median(a, 5) / 1000, base = median(m, 5) / 1000;

	row("B4", "purge 128 MiB of populated unpinned memory (instructions, not memory latency)",
	    ours, "us", base, "memfd punch-hole", "<= 1.02x", ours <= 1.02 * base);
}

/* Touches 'bytes' of anonymous memory in a child; returns its time, or -1 if it died. */
static double hog(size_t bytes)
{
	int status;
	double ns;
	uint64_t t = now_ns();
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (child == 0)
		_exit(touch_anonymous(bytes, page) == MAP_FAILED ? 2 : 0);
	if (waitpid(child, &status, 0) != child)
		die("waitpid");
	ns = now_ns() - t;
	return status == 0 ? ns : -1;
}

/* B6: an allocation that needs the shrinker to give unpinned memory back. */
static void bench_pressure(void)
{
	long size = 512L << 20, available;
	int fd = new_region("bench", size), purged;
	char *map = map_shared(fd, size);
	double with, without;
	size_t bytes;

	touch_pages(map, size, page);
	if (pin_op(fd, ASHMEM_UNPIN, 0, 0))
		die("UNPIN");
	available = meminfo_kb("MemAvailable:");
	/* More than is available by half the unpinned memory: only purging can give it. */
	bytes = (size_t)available * 1024 + size / 2;
	with = hog(bytes);
	purged = pin_op(fd, ASHMEM_PIN, 0, 0) == ASHMEM_WAS_PURGED;
	munmap(map, size);
	close(fd);
	without = hog(bytes);
	printf("| B6 | allocate %zu MiB with 512 MiB unpinned | %s | nothing unpinned: %s | %.2fx | succeeds, unpinned memory purged, no OOM kill | %s |\n",
	       bytes >> 20, with < 0 ? "killed" : "ok", without < 0 ? "killed" : "ok",
	       with > 0 && without > 0 ? with / without : 0,
	       with > 0 && without > 0 && purged ? "met" : "missed");
}

/*
 * B7: pair latency while a second thread keeps purging a second region,
 * against the same two threads with the second one blocked. A process with
 * two threads pays more per ioctl than one with a single thread (the file
 * table is shared, so each fdget() takes a reference): that cost is in both
 * figures, and the single-threaded figure is printed beside them.
 *
 * Under -icount the program runs on CPU 0 only (see main()), so the guest's
 * scheduler interleaves the two threads there, deterministically. The row
 * says how many purges each busy round saw, and a round without one is not a
 * measurement.
 * B7 is also run under multi-threaded TCG, where both threads run at once.
 * There, control rows put the same blocked baseline against a second thread
 * that does the purger's memory work on a memfd with no ashmem (touch, then
 * punch a hole); against the same thread also unpinning and pinning an ashmem
 * region of its own (with one lock for the whole purge order, this alone
 * cost the pairs 1.4x; its regions now sit in another part of the order);
 * and against one that only spins in userspace: they show how much of the
 * slowdown any purge, the shared lock, or any busy vCPU costs on this host.
 * Another times null ioctls instead of pins beside the purger: whether the
 * purge slows every ioctl or only the pins that share its locks.
 */
#define PAIRS 20000

enum second_thread {
	BLOCKED,
	PURGING,
	PUNCHING_MEMFD,
	PUNCHING_MEMFD_PINNING,
	SPINNING,
	SECOND_THREADS
};

static volatile int stop;
static long loops;

/*
 * Touches 64 pages and purges them, through ashmem or a memfd, until stopped.
 * PUNCHING_MEMFD_PINNING also unpins and pins an ashmem region of its own
 * around each punch: ashmem's pin path beside the pairs, with no ashmem purge.
 */
static void *purger(void *arg)
{
	enum second_thread kind = *(enum second_thread *)arg;
	int memfd = kind != PURGING;
	long size = 64 * page;
	int fd = memfd ? memfd_create("purged", MFD_CLOEXEC) : new_region("purged", size);
	int pinned = kind == PUNCHING_MEMFD_PINNING ? new_region("pinned", size) : -1;
	char *map;

	if (fd < 0 || (memfd && ftruncate(fd, size)))
		die("memfd_create/ftruncate");
	map = map_shared(fd, size);
	while (!stop) {
		touch_pages(map, size, page);
		if (memfd) {
			if (pinned >= 0)
				pin_op(pinned, ASHMEM_UNPIN, 0, 0);
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size))
				die("fallocate");
			if (pinned >= 0)
				pin_op(pinned, ASHMEM_PIN, 0, 0);
		} else {
			pin_op(fd, ASHMEM_UNPIN, 0, 0);
			ash(fd, ASHMEM_PURGE_ALL_CACHES, 0);
			pin_op(fd, ASHMEM_PIN, 0, 0);
		}
		__atomic_add_fetch(&loops, 1, __ATOMIC_RELAXED);
	}
	munmap(map, size);
	close(fd);
	if (pinned >= 0)
		close(pinned);
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!stop)
		__atomic_add_fetch(&loops, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *blocked(void *arg)
{
	char byte;

	/* Returns when the other end of the pipe is closed. */
	return (void *)(long)read(*(int *)arg, &byte, 1);
}

/* One PIN+UNPIN pair of the first page, or a pair of null ioctls (GET_SIZE). */
static void pair(int fd, int null_ioctls)
{
	if (null_ioctls) {
		ash(fd, ASHMEM_GET_SIZE, 0);
		ash(fd, ASHMEM_GET_SIZE, 0);
	} else {
		pin_op(fd, ASHMEM_PIN, 0, page);
		pin_op(fd, ASHMEM_UNPIN, 0, page);
	}
}

/* The p99 of PAIRS pairs (see pair()). */
static double p99_pairs(int fd, int null_ioctls)
{
	double *lat = malloc(PAIRS * sizeof(*lat)), p99;

	if (!lat)
		die("malloc");
	for (int i = 0; i < PAIRS; i++) {
		uint64_t t = now_ns();

		pair(fd, null_ioctls);
		lat[i] = now_ns() - t;
	}
	qsort(lat, PAIRS, sizeof(*lat), cmp_double);
	p99 = lat[PAIRS * 99 / 100];
	free(lat);
	return p99;
}

/* The p99 of PAIRS pairs beside a second thread; returns the loops it ran. */
static long p99_beside(int fd, enum second_thread kind, int null_ioctls, double *p99)
{
	pthread_t thread;
	int pipefd[2];
	long before, seen;
	void *(*body)(void *) = kind == BLOCKED ? blocked : kind == SPINNING ? spinner : purger;
	void *arg = kind == BLOCKED ? (void *)&pipefd[0] : (void *)&kind;

	if (pipe(pipefd))
		die("pipe");
	stop = 0;
	if (pthread_create(&thread, NULL, body, arg))
		die("pthread_create");
	before = __atomic_load_n(&loops, __ATOMIC_RELAXED);
	*p99 = p99_pairs(fd, null_ioctls);
	seen = __atomic_load_n(&loops, __ATOMIC_RELAXED) - before;
	stop = 1;
	close(pipefd[1]);
	pthread_join(thread, NULL);
	close(pipefd[0]);
	return seen;
}

static void bench_latency(int smp)
{
	int fd = new_region("bench", 16 * page);
	int kinds = smp ? SECOND_THREADS : PURGING + 1;
	double p99[SECOND_THREADS][REPEATS], m[SECOND_THREADS], alone;
	/* Null ioctls beside a blocked and beside a purging thread, under multi-threaded TCG. */
	double null_p99[PURGING + 1][REPEATS], null_m[PURGING + 1];
	long fewest = -1, most = 0;

	map_shared(fd, 16 * page);
	alone = p99_pairs(fd, 0);
	/* Rounds of each kind alternate, so that a slow stretch of the host hits all. */
	for (int r = 0; r < REPEATS; r++) {
		for (int k = 0; k < kinds; k++) {
			long n = p99_beside(fd, k, 0, &p99[k][r]);

			if (k != PURGING)
				continue;
			fewest = fewest < 0 || n < fewest ? n : fewest;
			most = n > most ? n : most;
		}
		if (!smp)
			continue;
		for (int k = BLOCKED; k <= PURGING; k++)
			p99_beside(fd, k, 1, &null_p99[k][r]);
	}
	close(fd);
	for (int k = 0; k < kinds; k++)
		m[k] = median(p99[k], REPEATS);

	printf("| B7 | p99 PIN+UNPIN pair while a second thread purges a second region, %s (%d rounds of %d pairs, %ld to %ld purges each; single-threaded process: %.0f ns) | %.0f ns | second thread blocked: %.0f ns | %.2fx | <= 1.05x | %s |\n",
	       smp ? "multi-threaded TCG" : "-icount, both threads on CPU 0", REPEATS, PAIRS, fewest, most, alone,
	       m[PURGING], m[BLOCKED], m[PURGING] / m[BLOCKED],
	       fewest == 0 ? "not measured: a round saw no purge" :
	       m[PURGING] <= 1.05 * m[BLOCKED] ? "met" : "missed");
	if (!smp)
		return;
	printf("| B7 | control, no ashmem purge: the second thread touches 64 pages of a memfd and punches a hole over them, multi-threaded TCG | %.0f ns | second thread blocked: %.0f ns | %.2fx | - | ashmem purger against it: %.2fx |\n",
	       m[PUNCHING_MEMFD], m[BLOCKED], m[PUNCHING_MEMFD] / m[BLOCKED],
	       m[PURGING] / m[PUNCHING_MEMFD]);
	printf("| B7 | control, ashmem pins but no ashmem purge: the memfd thread also unpins and pins a 64-page ashmem region of its own around each punch, multi-threaded TCG | %.0f ns | second thread blocked: %.0f ns | %.2fx | - | ashmem purger against it: %.2fx |\n",
	       m[PUNCHING_MEMFD_PINNING], m[BLOCKED], m[PUNCHING_MEMFD_PINNING] / m[BLOCKED],
	       m[PURGING] / m[PUNCHING_MEMFD_PINNING]);
	printf("| B7 | control, no kernel work: the second thread spins in userspace, multi-threaded TCG | %.0f ns | second thread blocked: %.0f ns | %.2fx | - | - |\n",
	       m[SPINNING], m[BLOCKED], m[SPINNING] / m[BLOCKED]);
	for (int k = BLOCKED; k <= PURGING; k++)
		null_m[k] = median(null_p99[k], REPEATS);
	printf("| B7 | control, no pins: p99 of two null ioctls (GET_SIZE) while the second thread purges, multi-threaded TCG | %.0f ns | second thread blocked: %.0f ns | %.2fx | - | - |\n",
	       null_m[PURGING], null_m[BLOCKED], null_m[PURGING] / null_m[BLOCKED]);
}

/*
 * B5: pin/unpin throughput of 2 threads against 1. A control row does the
 * same with pairs of null ioctls (GET_SIZE), which share no lock: it shows
 * how far 2 threads scale on this host at all.
 */
struct worker {
	int fd;
	int null_ioctls;
	long pairs;
};

static volatile int go, halt;

static void *pin_worker(void *arg)
{
	struct worker *w = arg;

	while (!go)
		;
	while (!halt) {
		pair(w->fd, w->null_ioctls);
		w->pairs++;
	}
	return NULL;
}

/*
 * Pairs per second of 'threads' workers for 'ms' ms; 'shared' gives them one
 * region, 'null_ioctls' has them time null ioctls instead of pins.
 */
static double throughput(int threads, int shared, int null_ioctls, int ms)
{
	struct worker w[2] = { 0 };
	pthread_t t[2];
	double total = 0;

	for (int i = 0; i < threads; i++) {
		w[i].fd = shared && i ? w[0].fd : new_region("bench", 16 * page);
		w[i].null_ioctls = null_ioctls;
		if (!(shared && i))
			map_shared(w[i].fd, 16 * page);
	}
	go = halt = 0;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, pin_worker, &w[i]))
			die("pthread_create");
	go = 1;
	usleep(ms * 1000);
	halt = 1;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += w[i].pairs;
	}
	for (int i = 0; i < threads; i++)
		if (!(shared && i))
			close(w[i].fd);
	return total * 1000 / ms;
}

/* Prints the lowest and highest of n ratios a[r] / b[r] into buf. */
static void ratio_spread(char *buf, size_t len, const double *a, const double *b, int n)
{
	double lo = a[0] / b[0], hi = lo;

	for (int r = 1; r < n; r++) {
		lo = a[r] / b[r] < lo ? a[r] / b[r] : lo;
		hi = a[r] / b[r] > hi ? a[r] / b[r] : hi;
	}
	snprintf(buf, len, "runs: %.2f to %.2f", lo, hi);
}

static void bench_threads(void)
{
	double one[5], own[5], shared[5], null_one[5], null_two[5];
	char own_runs[40], null_runs[40];

	for (int r = 0; r < 5; r++) {
		one[r] = throughput(1, 0, 0, 500);
		own[r] = throughput(2, 0, 0, 500);
		shared[r] = throughput(2, 1, 0, 500);
		null_one[r] = throughput(1, 0, 1, 500);
		null_two[r] = throughput(2, 0, 1, 500);
	}
	ratio_spread(own_runs, sizeof(own_runs), own, one, 5);
	ratio_spread(null_runs, sizeof(null_runs), null_two, null_one, 5);
	double m1 = median(one, 5), mo = median(own, 5), ms = median(shared, 5);
	double n1 = median(null_one, 5), n2 = median(null_two, 5);

	printf("| B5 | PIN+UNPIN pairs/s, 2 threads on their own regions | %.0f /s | 1 thread: %.0f /s | %.2fx (%s) | >= 1.7x | %s |\n",
	       mo, m1, mo / m1, own_runs, mo >= 1.7 * m1 ? "met" : "missed");
	printf("| B5 | PIN+UNPIN pairs/s, 2 threads on one shared region | %.0f /s | 1 thread: %.0f /s | %.2fx | - | - |\n",
	       ms, m1, ms / m1);
	printf("| B5 | control: pairs of null ioctls (GET_SIZE)/s, 2 threads on their own regions | %.0f /s | 1 thread: %.0f /s | %.2fx (%s) | - | - |\n",
	       n2, n1, n2 / n1, null_runs);
}

/* B8: ASHMEM_GET_SIZE on a memfd against the same on /dev/ashmem. */
static void bench_memfd(void)
{
	int dev = new_region("bench", 4 * page);
	int memfd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	double v[REPEATS], w[REPEATS];

	if (memfd < 0 || ftruncate(memfd, 4 * page))
		die("memfd");
	for (int r = 0; r < REPEATS; r++) {
		v[r] = null_ioctls(memfd, 2000);
		w[r] = null_ioctls(dev, 2000);
	}
	printf("| B8 | ASHMEM_GET_SIZE on a memfd | %.0f ns | on /dev/ashmem: %.0f ns | %.2fx | - | - |\n",
	       median(v, REPEATS), median(w, REPEATS), median(v, REPEATS) / median(w, REPEATS));
	close(memfd);
	close(dev);
}

/* Kernel pins and unpins of one page through /dev/ashmem_import. */
static double kernel_pins(int dev, uint32_t handle, long at, int count)
{
	struct ashmem_import_pin req = { .handle = handle, .offset = at, .len = page };
	uint64_t t = now_ns();

	for (int i = 0; i < count; i++) {
		if (ioctl(dev, ASHMEM_IMPORT_PIN, &req) || ioctl(dev, ASHMEM_IMPORT_UNPIN, &req.pin))
			die("kernel PIN/UNPIN");
	}
	return (double)(now_ns() - t) / count;
}

/*
 * B10: a driver's kernel pin and unpin of one page (a hold of the region's
 * pin state and memfd_pin_folios(), and their undoing), ioctls of the
 * importing sample included, against a userspace PIN+UNPIN pair on a region
 * with one unpinned range, as B3's. Two rows: a page userspace keeps pinned,
 * and the unpinned one, which the hold takes out of the purge order.
 */
static void bench_kernel_pin(void)
{
	int fd = new_region("bench", 4 * page), dev = open(IMPORT_DEV, O_RDWR | O_CLOEXEC);
	struct ashmem_import req = { 0 };
	double v[REPEATS], w[REPEATS];

	if (dev < 0)
		die("open " IMPORT_DEV);
	map_shared(fd, 4 * page);
	if (pin_op(fd, ASHMEM_UNPIN, 2 * page, page))
		die("UNPIN");
	req.fd = fd;
	if (ioctl(dev, ASHMEM_IMPORT, &req))
		die("IMPORT");
	for (int at = 0; at <= 2; at += 2) {
		for (int r = 0; r < REPEATS; r++) {
			v[r] = kernel_pins(dev, req.handle, at * page, 500);
			w[r] = pairs(fd, 2 * page, 500);
		}
		printf("| B10 | kernel pin and unpin of one page (the importing sample's PIN and UNPIN ioctls), %s | %.0f ns | userspace PIN+UNPIN pair: %.0f ns | %.2fx | - | - |\n",
		       at ? "a page userspace unpinned" : "a page userspace keeps pinned",
		       median(v, REPEATS), median(w, REPEATS), median(v, REPEATS) / median(w, REPEATS));
	}
	close(dev);
	close(fd);
}

/* The median cost of ioctl 'cmd' on 'fd', which must fail with ENOTTY. */
static double enotty_ioctls(int fd, unsigned long cmd)
{
	double v[REPEATS];

	for (int r = 0; r < REPEATS; r++) {
		uint64_t t = now_ns();

		for (int i = 0; i < 2000; i++)
			if (ioctl(fd, cmd) != -1 || errno != ENOTTY)
				die("the ioctl did not fail with ENOTTY");
		v[r] = (double)(now_ns() - t) / 2000;
	}
	return median(v, REPEATS);
}

/*
 * B9's measurement: two ioctls that fail with ENOTTY on a file of a tmpfs
 * that userspace mounted (as /dev/shm is), a command of another driver and
 * ASHMEM_GET_SIZE. scripts/bench.sh compares them with and without
 * CONFIG_RUST_ASHMEM_MEMFD: only memfds get the ioctl operation, so other
 * tmpfs files must cost the same.
 */
static void bench_hook(void)
{
	const char *dir = "/tmp/bench-shm", *path = "/tmp/bench-shm/memfd:x";
	double other, ashmem;
	int fd;

	mkdir(dir, 0700);
	if (mount("tmpfs", dir, "tmpfs", 0, NULL))
		die("mount tmpfs");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		die("open tmpfs file");
	other = enotty_ioctls(fd, _IO('x', 1));
	ashmem = enotty_ioctls(fd, ASHMEM_GET_SIZE);
	printf("bench-hook: %.1f %.1f\n", other, ashmem);
	close(fd);
	umount(dir);
}

int main(void)
{
	char cmdline[1024] = "";
	FILE *f = fopen("/proc/cmdline", "r");
	int smp;

	setvbuf(stdout, NULL, _IOLBF, 0);
	page = sysconf(_SC_PAGESIZE);
	if (f) {
		if (!fgets(cmdline, sizeof(cmdline), f))
			cmdline[0] = 0;
		fclose(f);
	}
	smp = strstr(cmdline, "bench.mode=smp") != NULL;
	anchor = strstr(cmdline, "bench.config=anchor") != NULL;
	if (strstr(cmdline, "bench.mode=hook")) {
		bench_hook();
		printf("bench: done\n");
		return 0;
	}
	if (!smp) {
		cpu_set_t cpu0;

		/*
		 * Under -icount both vCPUs run on one host thread, and QEMU 7.2
		 * lets a vCPU that never idles keep it: work for the other vCPU
		 * (a woken thread, a TLB-flush IPI the busy one waits for) waits
		 * until the busy one idles, for as long as the slices happen to
		 * fall. A spinning thread on CPU 1 ran not once in 90 ms of B7's
		 * pairs. On CPU 0 alone, with its threads and children, the
		 * program's figures follow its instructions only.
		 */
		CPU_ZERO(&cpu0);
		CPU_SET(0, &cpu0);
		if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
			die("sched_setaffinity");
	}
	printf("| | benchmark | ashmem | baseline | ratio | target | |\n");
	printf("|---|---|---|---|---|---|---|\n");
	if (smp) {
		bench_threads();
		bench_latency(1);
	} else {
		bench_lifecycle();
		bench_faults();
		bench_ranges();
		bench_purge();
		bench_pressure();
		bench_latency(0);
		bench_memfd();
		bench_kernel_pin();
	}
	printf("bench: done\n");
	return 0;
}
