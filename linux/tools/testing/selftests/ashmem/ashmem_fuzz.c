// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, bounded fuzzer for /dev/ashmem: random sequences of open,
 * close, dup, fork, every ioctl (and unknown ones) with hostile arguments,
 * mmap with every flag and protection, munmap, mprotect, mremap, madvise,
 * remap_file_pages, touching mappings, read and lseek, over several regions.
 * Every error must be one the interface allows for that call; the kernel
 * must not report anything (the harness around it watches the log).
 *
 * Usage: ashmem_fuzz [-s SEED] [-n OPERATIONS]. The seed is printed; the
 * same seed replays the same sequence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "ashmem_util.h"

#define FDS 6
#define MAPS 12

static uint64_t state;
static long page;
static int fds[FDS];
static struct {
	char *addr;
	size_t len;
} maps[MAPS];
static sigjmp_buf fault_jump;
static unsigned long ops, faults, errors_seen, bad;

static uint64_t next(void)
{
	return xorshift64(&state);
}

static unsigned long below(unsigned long n)
{
	return n ? next() % n : 0;
}

/*
 * The errors each call may return, besides success: those of the interface
 * (Documentation/rust/ashmem.rst) and the generic ones the VFS and mm return
 * for any file. Root runs this, so PURGE_ALL_CACHES may not fail.
 */
static const int unknown_ioctl_errors[] = { ENOTTY, 0 };
static const int name_errors[] = { EINVAL, EFAULT, 0 };
static const int get_name_errors[] = { EFAULT, 0 };
static const int value_errors[] = { EINVAL, 0 };
static const int range_errors[] = { EINVAL, EFAULT, ENOMEM, 0 };
static const int no_errors[] = { 0 };
static const int mmap_errors[] = { EINVAL, EPERM, EACCES, ENOMEM, EOVERFLOW, 0 };
static const int mprotect_errors[] = { EACCES, EINVAL, ENOMEM, 0 };
static const int mremap_errors[] = { EINVAL, ENOMEM, EFAULT, 0 };
static const int madvise_errors[] = { EINVAL, ENOMEM, EAGAIN, EPERM, EACCES, 0 };
static const int remap_errors[] = { EINVAL, ENOMEM, EPERM, 0 };
static const int read_errors[] = { EBADF, EFAULT, EINVAL, 0 };
static const int lseek_errors[] = { EBADF, EINVAL, ENXIO, EOVERFLOW, 0 };
static const int munmap_errors[] = { EINVAL, 0 };

/* Fails the run if 'ret' is an error (-1, or MAP_FAILED) that 'allowed' lacks. */
static void check(const char *call, long ret, const int *allowed)
{
	if (ret != -1)
		return;
	errors_seen++;
	for (const int *e = allowed; *e; e++)
		if (errno == *e)
			return;
	bad++;
	ksft_print_msg("op %lu: %s failed with %s, which it may not return\n", ops, call,
		       strerror(errno));
}

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jump, 1);
}

/* A hostile pointer: NULL, wild, in the kernel, unaligned, or valid. */
static unsigned long hostile_pointer(void *valid)
{
	/* Truncated to 32 bits for 32-bit callers: still not theirs. */
	static const unsigned long long wild[] = {
		0, 1, 0xdead000, -4096ULL, 0xffffffff81000000ULL,
	};

	if (below(3))
		return (unsigned long)valid + below(2);
	return wild[below(ARRAY_SIZE(wild))];
}

static unsigned long hostile_size(void)
{
	static const unsigned long sizes[] = {
		0, 1, 4095, 4096, 8192, 65536, 0x7fffffff, 0xffffffffUL, (unsigned long)-1,
	};

	if (below(2))
		return (below(16) + 1) * page;
	return sizes[below(ARRAY_SIZE(sizes))];
}

static int some_fd(void)
{
	return fds[below(FDS)];
}

static void fuzz_ioctl(void)
{
	static const unsigned long cmds[] = {
		ASHMEM_SET_NAME, ASHMEM_GET_NAME, ASHMEM_SET_SIZE, ASHMEM_GET_SIZE,
		ASHMEM_SET_PROT_MASK, ASHMEM_GET_PROT_MASK, ASHMEM_PIN, ASHMEM_UNPIN,
		ASHMEM_GET_PIN_STATUS, ASHMEM_PURGE_ALL_CACHES, ASHMEM_GET_FILE_ID,
		_IO(__ASHMEMIOC, 12), _IOW(__ASHMEMIOC, 1, char[16]), _IO('x', 1), 0,
	};
	char buf[ASHMEM_NAME_LEN + 16];
	struct ashmem_pin pin;
	unsigned long cmd = cmds[below(ARRAY_SIZE(cmds))], arg;

	memset(buf, 'a' + below(26), sizeof(buf));
	buf[below(sizeof(buf))] = 0;
	pin.offset = below(4) ? below(20) * page : next();
	pin.len = below(4) ? below(20) * page : next();
	const int *allowed;
	long ret;

	switch (cmd) {
	case ASHMEM_SET_NAME:
		arg = hostile_pointer(buf);
		allowed = name_errors;
		break;
	case ASHMEM_GET_NAME:
		arg = hostile_pointer(buf);
		allowed = get_name_errors;
		break;
	case ASHMEM_SET_SIZE:
		arg = hostile_size();
		allowed = value_errors;
		break;
	case ASHMEM_SET_PROT_MASK:
		arg = below(4) ? below(8) : next();
		allowed = value_errors;
		break;
	case ASHMEM_PIN:
	case ASHMEM_UNPIN:
	case ASHMEM_GET_PIN_STATUS:
		arg = hostile_pointer(&pin);
		allowed = range_errors;
		break;
	case ASHMEM_GET_FILE_ID:
		arg = hostile_pointer(buf);
		allowed = name_errors;
		break;
	case ASHMEM_GET_SIZE:
		/* The size is the result: one above LONG_MAX reads as an error. */
		ioctl(some_fd(), cmd, 0);
		return;
	case ASHMEM_GET_PROT_MASK:
	case ASHMEM_PURGE_ALL_CACHES:
		arg = next();
		allowed = no_errors;
		break;
	default:
		arg = hostile_pointer(buf);
		allowed = unknown_ioctl_errors;
	}
	ret = ioctl(some_fd(), cmd, arg);
	check("ioctl", ret, allowed);
}

static void fuzz_mmap(void)
{
	static const int flags[] = { MAP_SHARED, MAP_PRIVATE, MAP_SHARED | MAP_NORESERVE,
				     MAP_SHARED | MAP_POPULATE, MAP_PRIVATE | MAP_POPULATE };
	int slot = below(MAPS);
	size_t len = below(4) ? (below(16) + 1) * page : hostile_size();
	off_t off = below(4) ? 0 : below(8) * page;
	void *addr;

	int flag = flags[below(5)];

	if (maps[slot].addr)
		return;
	/* Populating a huge region would only test the OOM killer. */
	if (len > 64 * (size_t)page)
		flag &= ~MAP_POPULATE;
	addr = mmap(NULL, len, below(8), flag, some_fd(), off);
	check("mmap", (long)addr, mmap_errors);
	if (addr != MAP_FAILED) {
		maps[slot].addr = addr;
		maps[slot].len = len;
	}
}

static void fuzz_mapping(void)
{
	int slot = below(MAPS);
	char *addr = maps[slot].addr;
	size_t len = maps[slot].len;
	void *moved;

	if (!addr)
		return;
	switch (below(7)) {
	case 0:
		check("munmap", munmap(addr, len), munmap_errors);
		maps[slot].addr = NULL;
		break;
	case 1:
		check("mprotect", mprotect(addr, len, below(8)), mprotect_errors);
		break;
	case 2: {
		size_t new_len = (below(16) + 1) * page;

		moved = mremap(addr, len, new_len, MREMAP_MAYMOVE);
		check("mremap", (long)moved, mremap_errors);
		if (moved != MAP_FAILED) {
			maps[slot].addr = moved;
			maps[slot].len = new_len;
		}
		break;
	}
	case 3: {
		static const int advice[] = { MADV_DONTNEED, MADV_REMOVE, MADV_FREE,
					      MADV_WILLNEED, MADV_COLD, MADV_PAGEOUT };
		check("madvise", madvise(addr, len, advice[below(6)]), madvise_errors);
		break;
	}
	case 4:
		check("remap_file_pages",
		      remap_file_pages(addr, page, 0, below(4), 0), remap_errors);
		break;
	default:
		/* Touch: a purged page reads zeros, past the size is SIGBUS. */
		if (!sigsetjmp(fault_jump, 1)) {
			size_t at = below(len / page + 1) * page;
			char *p = addr + (at < len ? at : 0);

			if (below(2))
				__atomic_store_n(p, 1, __ATOMIC_RELAXED);
			else
				(void)__atomic_load_n(p, __ATOMIC_RELAXED);
		} else {
			faults++;
		}
	}
}

static void fuzz_fd(void)
{
	char buf[256];
	int slot = below(FDS), fd;
	pid_t child;

	switch (below(6)) {
	case 0:
		close(fds[slot]);
		fds[slot] = open(ASHMEM_DEV, O_RDWR);
		if (fds[slot] < 0)
			ksft_exit_fail_msg("open /dev/ashmem: %s\n", strerror(errno));
		break;
	case 1:
		fd = dup(some_fd());
		if (fd >= 0) {
			close(fds[slot]);
			fds[slot] = fd;
		}
		break;
	case 2:
		check("read", read(some_fd(), below(2) ? buf : (void *)hostile_pointer(buf),
				   below(sizeof(buf))), read_errors);
		break;
	case 3:
		check("lseek", lseek(some_fd(), (off_t)below(64 * page) - 4 * page, below(5)),
		      lseek_errors);
		break;
	case 4:
		check("write", write(some_fd(), buf, 1), read_errors);
		break;
	default:
		/* A child runs a few ioctls on the shared regions, then exits. */
		child = fork();
		if (child == 0) {
			for (int i = 0; i < 8; i++)
				fuzz_ioctl();
			_exit(bad ? 1 : 0);
		}
		if (child > 0) {
			int status;

			waitpid(child, &status, 0);
			if (!WIFEXITED(status) || WEXITSTATUS(status)) {
				bad++;
				ksft_print_msg("op %lu: a child ended with status %#x\n",
					       ops, status);
			}
		}
	}
}

int main(int argc, char **argv)
{
	unsigned long operations = 100000;
	uint64_t seed = 0;
	struct sigaction sa = { .sa_handler = on_fault };

	parse_seed_and_count(argc, argv, &seed, &operations);
	state = seed;
	page = sysconf(_SC_PAGESIZE);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	ksft_print_header();
	ksft_set_plan(1);
	ksft_print_msg("seed %#llx, %lu operations (replay: -s %#llx -n %lu)\n",
		       (unsigned long long)seed, operations, (unsigned long long)seed, operations);
	for (int i = 0; i < FDS; i++) {
		fds[i] = open(ASHMEM_DEV, O_RDWR);
		if (fds[i] < 0)
			ksft_exit_fail_msg("open /dev/ashmem: %s\n", strerror(errno));
	}
	for (ops = 0; ops < operations; ops++) {
		switch (below(8)) {
		case 0:
		case 1:
		case 2:
			fuzz_ioctl();
			break;
		case 3:
		case 4:
			fuzz_mmap();
			break;
		case 5:
		case 6:
			fuzz_mapping();
			break;
		default:
			fuzz_fd();
		}
	}
	ksft_print_msg("%lu operations, %lu errors (all allowed: %s), %lu faults caught\n", ops,
		       errors_seen, bad ? "no" : "yes", faults);
	ksft_test_result(!bad, "fuzz: %lu operations with seed %#llx\n", ops,
			 (unsigned long long)seed);
	ksft_finished();
}
