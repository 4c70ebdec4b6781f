// SPDX-License-Identifier: GPL-2.0
/*
 * An Android-style ashmem client, narrating what it does: the calls are
 * those libcutils' ashmem_create_region() and the framework's
 * SharedMemory make, on /dev/ashmem and then, as Android 16 and later
 * prefer, on a memfd when the kernel answers ashmem ioctls there. Runs as
 * /demo in the test VM for `make demo`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static long page;

static void fail(const char *what)
{
	printf("FAILED: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* What libcutils' ashmem_create_region() does. */
static int create_region(const char *name, size_t size)
{
	int fd = open("/dev/ashmem", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail("open /dev/ashmem");
	if (ioctl(fd, ASHMEM_SET_NAME, name) < 0)
		fail("ASHMEM_SET_NAME");
	if (ioctl(fd, ASHMEM_SET_SIZE, size) < 0)
		fail("ASHMEM_SET_SIZE");
	return fd;
}

static void show_maps(const char *what)
{
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "r");

	if (!maps)
		fail("open /proc/self/maps");
	printf("   /proc/self/maps lines for %s:\n", what);
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "ashmem"))
			printf("     %s", line);
	fclose(maps);
}

static int pin(int fd, unsigned long cmd, unsigned int offset, unsigned int len)
{
	struct ashmem_pin range = { .offset = offset, .len = len };

	return ioctl(fd, cmd, &range);
}

/* libcutils' check that the kernel answers ashmem ioctls on a memfd. */
static int memfd_supported(void)
{
	int fd = memfd_create("memfd-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int ok;

	if (fd < 0)
		return 0;
	ok = fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0 && ftruncate(fd, page) == 0 &&
	     ioctl(fd, ASHMEM_GET_SIZE) == page;
	close(fd);
	return ok;
}

/* A region as libcutils makes it on the memfd path, used through ashmem ioctls. */
static void memfd_region(void)
{
	char name[ASHMEM_NAME_LEN];
	int fd = memfd_create("camera-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *map;

	if (fd < 0 || ftruncate(fd, 4 * page) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0)
		fail("memfd region");
	if (ioctl(fd, ASHMEM_GET_NAME, name) < 0)
		fail("ASHMEM_GET_NAME on the memfd");
	printf("   memfd_create(\"camera-memfd\"), size sealed: ASHMEM_GET_SIZE %d, ASHMEM_GET_NAME \"%s\"\n",
	       ioctl(fd, ASHMEM_GET_SIZE), name);
	printf("   ASHMEM_SET_SIZE on it: %s (its size is sealed)\n",
	       ioctl(fd, ASHMEM_SET_SIZE, page) < 0 ? strerror(errno) : "success (wrong!)");
	if (ioctl(fd, ASHMEM_SET_PROT_MASK, PROT_READ) < 0)
		fail("ASHMEM_SET_PROT_MASK on the memfd");
	printf("   ASHMEM_SET_PROT_MASK(PROT_READ) seals it against writes: F_GET_SEALS now 0x%x (F_SEAL_FUTURE_WRITE 0x10 added)\n",
	       fcntl(fd, F_GET_SEALS));
	map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("   a writable shared mapping now fails: %s; ASHMEM_GET_PROT_MASK is %d (PROT_READ|PROT_EXEC)\n",
	       map == MAP_FAILED ? strerror(errno) : "mapped (wrong!)", ioctl(fd, ASHMEM_GET_PROT_MASK));
	printf("   ASHMEM_PIN on a memfd: %s, it is never purged\n",
	       pin(fd, ASHMEM_PIN, 0, 0) == ASHMEM_NOT_PURGED ? "NOT_PURGED" : "wrong");
	close(fd);
}

int main(void)
{
	char *camera, *cache, *view;
	int camera_fd, cache_fd, status;
	pid_t child;

	setvbuf(stdout, NULL, _IONBF, 0);
	page = sysconf(_SC_PAGESIZE);
	printf("ashmem demo: an Android-style client of the Rust /dev/ashmem\n\n");

	printf("1. Create two named regions, as ashmem_create_region() does:\n");
	camera_fd = create_region("camera-preview", 4 * page);
	cache_fd = create_region("app-cache", 8 * page);
	printf("   camera-preview: %d bytes, app-cache: %d bytes\n\n",
	       ioctl(camera_fd, ASHMEM_GET_SIZE), ioctl(cache_fd, ASHMEM_GET_SIZE));

	printf("2. Map them shared and fill them; the first mmap creates the backing memory:\n");
	camera = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, camera_fd, 0);
	cache = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_SHARED, cache_fd, 0);
	if (camera == MAP_FAILED || cache == MAP_FAILED)
		fail("mmap");
	strcpy(camera, "frame 1");
	strcpy(cache + 5 * page, "cached thumbnail");
	show_maps("both regions");
	printf("   now the size is fixed: ASHMEM_SET_SIZE gives %s\n\n",
	       ioctl(camera_fd, ASHMEM_SET_SIZE, page) < 0 ? strerror(errno) : "success (wrong!)");

	printf("3. Share camera-preview with a child process (fork keeps the mapping):\n");
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0) {
		strcpy(camera, "frame 2, written by the child");
		_exit(0);
	}
	waitpid(child, &status, 0);
	printf("   the parent reads: \"%s\"\n\n", camera);

	printf("4. Make camera-preview read-only, as SharedMemory.setProtect() does:\n");
	if (ioctl(camera_fd, ASHMEM_SET_PROT_MASK, PROT_READ) < 0)
		fail("ASHMEM_SET_PROT_MASK");
	view = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, camera_fd, 0);
	printf("   a writable mapping now fails: %s\n",
	       view == MAP_FAILED ? strerror(errno) : "mapped (wrong!)");
	view = mmap(NULL, page, PROT_READ, MAP_SHARED, camera_fd, 0);
	if (view == MAP_FAILED)
		fail("read-only mmap");
	printf("   a read-only one works and shows \"%s\";\n", view);
	printf("   mprotect() cannot make it writable: %s\n\n",
	       mprotect(view, page, PROT_READ | PROT_WRITE) < 0 ? strerror(errno) : "it did (wrong!)");

	printf("5. Unpin the cache: the kernel may now take its memory back:\n");
	if (pin(cache_fd, ASHMEM_UNPIN, 0, 0) < 0)
		fail("ASHMEM_UNPIN");
	printf("   ASHMEM_GET_PIN_STATUS: %s\n",
	       pin(cache_fd, ASHMEM_GET_PIN_STATUS, 0, 0) == ASHMEM_IS_UNPINNED ?
	       "unpinned" : "pinned");
	printf("   memory pressure comes: every shrinker runs (echo 2 > /proc/sys/vm/drop_caches),\n");
	printf("   the android-ashmem one included\n");
	status = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (status < 0 || write(status, "2", 1) != 1)
		fail("drop_caches");
	close(status);
	status = pin(cache_fd, ASHMEM_PIN, 0, 0);
	printf("   pinned again: %s, and the thumbnail now reads \"%s\" (zeros)\n",
	       status == ASHMEM_WAS_PURGED ? "WAS_PURGED" : "NOT_PURGED (wrong!)",
	       cache + 5 * page);
	printf("   camera-preview stayed pinned and kept \"%s\"\n\n", camera);

	printf("6. An administrator purges every unpinned page at once (ASHMEM_PURGE_ALL_CACHES):\n");
	strcpy(cache, "recomputed");
	if (pin(cache_fd, ASHMEM_UNPIN, 0, 2 * page) < 0)
		fail("ASHMEM_UNPIN");
	status = ioctl(cache_fd, ASHMEM_PURGE_ALL_CACHES);
	printf("   it returns the number of pages that were purgeable: %d\n", status);
	status = pin(cache_fd, ASHMEM_PIN, 0, 2 * page);
	printf("   the cache's first two pages: %s, reading \"%s\"\n\n",
	       status == ASHMEM_WAS_PURGED ? "WAS_PURGED" : "NOT_PURGED (wrong!)", cache);

	printf("7. Unknown commands answer ENOTTY, which libcutils uses to tell ashmem fds apart: %s\n",
	       ioctl(cache_fd, _IO(__ASHMEMIOC, 42)) < 0 ? strerror(errno) : "success (wrong!)");
	printf("\n8. Android 16 and later prefer memfd, if the kernel answers ashmem ioctls on one.\n");
	printf("   libcutils' probe: memfd_create(), F_SEAL_FUTURE_WRITE, ftruncate(), ASHMEM_GET_SIZE:\n");
	if (!memfd_supported()) {
		printf("   ENOTTY: this kernel does not, so libcutils keeps using /dev/ashmem as above\n");
		printf("\nDone: every step behaved as Android userspace expects.\n");
		return 0;
	}
	printf("   the size comes back: libcutils takes the memfd path\n");
	memfd_region();
	printf("\nDone: every step behaved as Android userspace expects.\n");
	return 0;
}
