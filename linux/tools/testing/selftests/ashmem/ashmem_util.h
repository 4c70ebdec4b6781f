/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ashmem selftests: ioctls that return -errno,
 * /proc/meminfo, the seeded generator and its command line.
 */
#ifndef ASHMEM_UTIL_H
#define ASHMEM_UTIL_H

#include <errno.h>
#include <linux/ashmem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ASHMEM_DEV "/dev/ashmem"

/* Calls an ioctl and returns its result, or -errno. */
static inline long ash(int fd, unsigned long cmd, unsigned long arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* PIN, UNPIN or GET_PIN_STATUS of a byte range; the result, or -errno. */
static inline long pin_op(int fd, unsigned long cmd, unsigned int offset, unsigned int len)
{
	struct ashmem_pin pin = { .offset = offset, .len = len };

	return ash(fd, cmd, (unsigned long)&pin);
}

/*
 * ASHMEM_PURGE_ALL_CACHES on 'fd' from a child that left uid 0, which drops
 * every capability. Returns 0 if it failed with EPERM, 1 if it did anything
 * else, 2 if the child could not leave uid 0, -1 if fork or wait failed.
 */
static inline int purge_all_caches_unprivileged(int fd)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		_exit(ash(fd, ASHMEM_PURGE_ALL_CACHES, 0) == -EPERM ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The value of a /proc/meminfo line such as "Shmem:", in kB, or -1. */
static inline long meminfo_kb(const char *key)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			kb = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return kb;
}

/* The value of a /proc/vmstat counter such as "oom_kill", or -1. */
static inline long vmstat_counter(const char *key)
{
	char name[64];
	long value, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &value) == 2)
		if (!strcmp(name, key))
			found = value;
	fclose(f);
	return found;
}

/* Writes to each page of 'bytes' at 'mem', so that all of it is in use. */
static inline void touch_pages(char *mem, size_t bytes, long page)
{
	for (size_t off = 0; off < bytes; off += page)
		mem[off] = 1;
}

/*
 * Maps 'bytes' of private anonymous memory and writes to each page, so that
 * all of it is in use; returns the mapping, or MAP_FAILED.
 */
static inline char *touch_anonymous(size_t bytes, long page)
{
	char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem != MAP_FAILED)
		touch_pages(mem, bytes, page);
	return mem;
}

/* xorshift64: the same seed gives the same sequence. */
static inline uint64_t xorshift64(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/*
 * Parses "-s SEED -n COUNT". Without -s the seed comes from the time and
 * the pid, and is never 0 (xorshift64 would stay at 0).
 */
static inline void parse_seed_and_count(int argc, char **argv, uint64_t *seed,
					unsigned long *count)
{
	int opt;

	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's')
			*seed = strtoull(optarg, NULL, 0);
		else if (opt == 'n')
			*count = strtoul(optarg, NULL, 0);
	}
	if (!*seed)
		*seed = (uint64_t)time(NULL) * 2654435761u + getpid();
}

#endif /* ASHMEM_UTIL_H */
