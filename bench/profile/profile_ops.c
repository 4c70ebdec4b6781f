// SPDX-License-Identifier: GPL-2.0
/*
 * profile_ops.c: /demo of a profiling boot (scripts/profile.sh). Repeats one
 * ashmem operation "profile.n=" times, the one "profile.op=" names:
 *   getsize  ASHMEM_GET_SIZE
 *   pair     ASHMEM_PIN then ASHMEM_UNPIN of page 0, the region's only
 *            unpinned range (B3's 1-range pair)
 *   none     nothing: the boot the others are set against
 */
#include <fcntl.h>
#include <linux/ashmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *param(const char *cmdline, const char *key)
{
	const char *p = strstr(cmdline, key);

	return p ? p + strlen(key) : "";
}

static void fail(const char *what)
{
	printf("profile: FAILED: %s\n", what);
	exit(1);
}

int main(void)
{
	char cmdline[4096] = "";
	long page = sysconf(_SC_PAGESIZE), n;
	struct ashmem_pin pin = { 0, 0 };
	const char *op;
	FILE *f = fopen("/proc/cmdline", "r");
	int fd;

	if (!f || !fgets(cmdline, sizeof(cmdline), f))
		fail("/proc/cmdline");
	fclose(f);
	op = param(cmdline, "profile.op=");
	n = atol(param(cmdline, "profile.n="));
	fd = open("/dev/ashmem", O_RDWR);
	if (fd < 0 || ioctl(fd, ASHMEM_SET_SIZE, 4 * page) ||
	    mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED)
		fail("region");
	pin.len = page;
	if (ioctl(fd, ASHMEM_UNPIN, &pin))
		fail("UNPIN");
	for (long i = 0; i < n; i++) {
		if (!strncmp(op, "getsize", 7)) {
			if (ioctl(fd, ASHMEM_GET_SIZE, 0) != 4 * page)
				fail("GET_SIZE");
		} else if (!strncmp(op, "pair", 4)) {
			if (ioctl(fd, ASHMEM_PIN, &pin) < 0 || ioctl(fd, ASHMEM_UNPIN, &pin))
				fail("PIN/UNPIN");
		} else if (strncmp(op, "none", 4)) {
			fail("profile.op");
		}
	}
	printf("profile: done %ld\n", n);
	return 0;
}
