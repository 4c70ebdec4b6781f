// SPDX-License-Identifier: GPL-2.0
/*
 * For module_cycle.sh, with rust_ashmem and rust_ashmem_import loaded as
 * modules: a region that /dev/ashmem_import pinned after its fd was closed
 * and unmapped keeps rust_ashmem_import loaded (its file is open), not
 * rust_ashmem (no file of it is open), and keeps its data. Unloads both.
 *
 * Exit status: bit N - 1 set if step N failed (or could not run), 0 if
 * all passed:
 *   1. a region is mapped, written, imported, pinned, closed and unmapped;
 *   2. rust_ashmem_import refuses to unload;
 *   3. rust_ashmem unloads;
 *   4. the pinned data reads the same;
 *   5. unpin, release and closing /dev/ashmem_import succeed;
 *   6. rust_ashmem_import unloads.
 * Needs root.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ashmem_util.h"
#include "ashmem_import.h"

#define PAGES 4
#define STEPS 6

static int failed;

/* Records step 'n' as failed if 'ok' is false; returns 'ok'. */
static int verify(int n, int ok, const char *what)
{
	if (!ok) {
		failed |= 1 << (n - 1);
		printf("# step %d failed: %s (errno: %s)\n", n, what, strerror(errno));
	}
	return ok;
}

static long delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK);
}

/* Whether CHECKSUM of the first 'len' bytes of 'pin' is 'want'. */
static int checksum_is(int dev, uint32_t pin, long len, uint64_t want)
{
	struct ashmem_import_io io = { .pin = pin, .len = len };

	errno = 0;
	if (ioctl(dev, ASHMEM_IMPORT_CHECKSUM, &io))
		return 0;
	if (io.sum != want)
		printf("# checksum %#llx, not %#llx\n", (unsigned long long)io.sum,
		       (unsigned long long)want);
	return io.sum == want;
}

int main(void)
{
	struct ashmem_import_pin kp = { 0 };
	struct ashmem_import imp = { 0 };
	long page = sysconf(_SC_PAGESIZE), i;
	int fd, dev, ok;
	uint64_t want;
	unsigned char *mem;

	fd = open(ASHMEM_DEV, O_RDWR);
	dev = open(IMPORT_DEV, O_RDWR);
	if (!verify(1, fd >= 0 && dev >= 0, "open") ||
	    !verify(1, !ioctl(fd, ASHMEM_SET_SIZE, PAGES * page), "ASHMEM_SET_SIZE"))
		return (1 << STEPS) - 1;
	mem = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!verify(1, mem != MAP_FAILED, "mmap"))
		return (1 << STEPS) - 1;
	for (i = 0; i < PAGES * page; i++)
		mem[i] = i * 7 + i / page + 1;
	want = fnv1a(mem, PAGES * page);
	imp.fd = fd;
	if (!verify(1, !ioctl(dev, ASHMEM_IMPORT, &imp), "ASHMEM_IMPORT"))
		return (1 << STEPS) - 1;
	kp.handle = imp.handle;
	if (!verify(1, !ioctl(dev, ASHMEM_IMPORT_PIN, &kp), "ASHMEM_IMPORT_PIN"))
		return (1 << STEPS) - 1;
	verify(1, checksum_is(dev, kp.pin, PAGES * page, want), "checksum before closing");
	verify(1, !munmap(mem, PAGES * page) && !close(fd), "munmap and close");

	ok = delete_module("rust_ashmem_import") && (errno == EWOULDBLOCK || errno == EBUSY);
	verify(2, ok, "delete_module(rust_ashmem_import) with its file open");
	verify(3, !delete_module("rust_ashmem"), "delete_module(rust_ashmem)");
	verify(4, checksum_is(dev, kp.pin, PAGES * page, want), "checksum without rust_ashmem");

	verify(5, !ioctl(dev, ASHMEM_IMPORT_UNPIN, &kp.pin), "ASHMEM_IMPORT_UNPIN");
	verify(5, !ioctl(dev, ASHMEM_IMPORT_RELEASE, &imp.handle), "ASHMEM_IMPORT_RELEASE");
	verify(5, !close(dev), "close");
	/* The release ran before close() returned. */
	verify(6, !delete_module("rust_ashmem_import"), "delete_module(rust_ashmem_import)");
	return failed;
}
