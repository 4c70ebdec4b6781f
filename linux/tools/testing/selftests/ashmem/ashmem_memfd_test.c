// SPDX-License-Identifier: GPL-2.0
/*
 * Android's ashmem ioctls on memfds (CONFIG_RUST_ASHMEM_MEMFD): each row of
 * the contract current Android userspace relies on, and ENOTTY everywhere
 * else. Needs root (a tmpfs mount, /proc/self/map_files, setresuid).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ashmem.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "ashmem_util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

static long page;

/* The seals of 'fd' but F_SEAL_EXEC, which vm.memfd_noexec may add; or -errno. */
static int seals(int fd)
{
	int ret = fcntl(fd, F_GET_SEALS);

	return ret < 0 ? -errno : ret & ~F_SEAL_EXEC;
}

FIXTURE(memfd) {
	int fd;
};

FIXTURE_SETUP(memfd)
{
	page = sysconf(_SC_PAGESIZE);
	self->fd = memfd_create("ashmem-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ASSERT_LE(0, self->fd) TH_LOG("memfd_create: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(self->fd, 3 * page));
}

FIXTURE_TEARDOWN(memfd)
{
	close(self->fd);
}

/* The probe of libcutils before it picks memfd over /dev/ashmem. */
TEST_F(memfd, libcutils_probe)
{
	int fd = memfd_create("probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	ASSERT_EQ(0, ftruncate(fd, page));
	EXPECT_EQ(page, ash(fd, ASHMEM_GET_SIZE, 0));
	close(fd);
}

TEST_F(memfd, get_size_is_the_file_size)
{
	EXPECT_EQ(3 * page, ash(self->fd, ASHMEM_GET_SIZE, 0));
	ASSERT_EQ(0, ftruncate(self->fd, 5000));
	EXPECT_EQ(5000, ash(self->fd, ASHMEM_GET_SIZE, 0));
}

TEST_F(memfd, get_name_drops_the_prefix)
{
	char name[ASHMEM_NAME_LEN], longest[250];
	int fd;

	memset(name, 'x', sizeof(name));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ("ashmem-test", name);
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_GET_NAME, 0));

	/* The longest name memfd_create() takes: 249 bytes. */
	memset(longest, 'n', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	fd = memfd_create(longest, MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ash(fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ(longest, name);
	close(fd);
}

TEST_F(memfd, set_name_and_set_size_are_einval)
{
	char name[ASHMEM_NAME_LEN];

	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_NAME, (unsigned long)"renamed"));
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_SIZE, page));
	EXPECT_EQ(3 * page, ash(self->fd, ASHMEM_GET_SIZE, 0));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_NAME, (unsigned long)name));
	EXPECT_STREQ("ashmem-test", name);
}

TEST_F(memfd, prot_mask_follows_the_write_seals)
{
	int fd = memfd_create("write-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	EXPECT_EQ(RWX, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));
	ASSERT_EQ(0, fcntl(self->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	EXPECT_EQ(PROT_READ | PROT_EXEC, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(PROT_READ | PROT_EXEC, ash(fd, ASHMEM_GET_PROT_MASK, 0));
	EXPECT_EQ(-EINVAL, ash(fd, ASHMEM_SET_PROT_MASK, RWX));
	close(fd);
}

/* Dropping PROT_WRITE seals the file as fcntl(F_ADD_SEALS, F_SEAL_FUTURE_WRITE) does. */
TEST_F(memfd, set_prot_mask_adds_future_write)
{
	void *map;

	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, RWX));
	EXPECT_EQ(0, seals(self->fd));
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_PROT_MASK, RWX | 8));
	EXPECT_EQ(0, seals(self->fd));

	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	EXPECT_EQ(F_SEAL_FUTURE_WRITE, seals(self->fd));
	EXPECT_EQ(PROT_READ | PROT_EXEC, ash(self->fd, ASHMEM_GET_PROT_MASK, 0));
	EXPECT_EQ(-EINVAL, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ | PROT_WRITE));
	EXPECT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));

	map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	EXPECT_TRUE(map == MAP_FAILED);
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, write(self->fd, "x", 1));
	EXPECT_EQ(EPERM, errno);
	map = mmap(NULL, page, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	munmap(map, page);
}

/* As with fcntl(), writable mappings made before the seal stay writable. */
TEST_F(memfd, writable_mappings_made_before_stay)
{
	char *map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	char byte = 0;

	ASSERT_TRUE(map != MAP_FAILED);
	ASSERT_EQ(0, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	map[0] = 'w';
	ASSERT_EQ(1, pread(self->fd, &byte, 1, 0));
	EXPECT_EQ('w', byte);
	munmap(map, page);
}

TEST_F(memfd, set_prot_mask_needs_a_writable_fd)
{
	char path[64];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->fd);
	ro = open(path, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EPERM, ash(ro, ASHMEM_SET_PROT_MASK, PROT_READ));
	/* Bad bits are refused before the seal is tried. */
	EXPECT_EQ(-EINVAL, ash(ro, ASHMEM_SET_PROT_MASK, PROT_READ | 8));
	EXPECT_EQ(0, seals(self->fd));
	/* The other commands need no write access. */
	EXPECT_EQ(3 * page, ash(ro, ASHMEM_GET_SIZE, 0));
	EXPECT_EQ(RWX, ash(ro, ASHMEM_GET_PROT_MASK, 0));
	close(ro);
}

TEST_F(memfd, set_prot_mask_fails_after_f_seal_seal)
{
	ASSERT_EQ(0, fcntl(self->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL));
	/* EPERM even though the seal it would add is there already, as fcntl() says. */
	EXPECT_EQ(-EPERM, ash(self->fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	EXPECT_EQ(-1, fcntl(self->fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(F_SEAL_FUTURE_WRITE | F_SEAL_SEAL, seals(self->fd));
}

/*
 * Without MFD_ALLOW_SEALING a memfd starts with F_SEAL_SEAL. MFD_EXEC keeps
 * it: MFD_NOEXEC_SEAL and vm.memfd_noexec would clear it.
 */
TEST_F(memfd, without_allow_sealing_is_eperm)
{
	int fd = memfd_create("no-sealing", MFD_CLOEXEC | MFD_EXEC);

	if (fd < 0 && errno == EACCES)
		SKIP(return, "vm.memfd_noexec is 2: no MFD_EXEC");
	ASSERT_LE(0, fd) TH_LOG("memfd_create(MFD_EXEC): %s", strerror(errno));
	EXPECT_EQ(F_SEAL_SEAL, seals(fd));
	EXPECT_EQ(RWX, ash(fd, ASHMEM_GET_PROT_MASK, 0));
	EXPECT_EQ(-EPERM, ash(fd, ASHMEM_SET_PROT_MASK, PROT_READ));
	EXPECT_EQ(RWX, ash(fd, ASHMEM_GET_PROT_MASK, 0));
	close(fd);
}

TEST_F(memfd, get_file_id_is_st_ino)
{
	unsigned char buf[16];
	unsigned long id = 0;
	struct stat st;
	size_t i;

	ASSERT_EQ(0, fstat(self->fd, &st));
	memset(buf, 0xaa, sizeof(buf));
	ASSERT_EQ(0, ash(self->fd, ASHMEM_GET_FILE_ID, (unsigned long)buf));
	memcpy(&id, buf, sizeof(id));
	EXPECT_EQ((unsigned long)st.st_ino, id);
	/* Exactly an unsigned long is written: 4 bytes for a 32-bit caller. */
	for (i = sizeof(unsigned long); i < sizeof(buf); i++)
		EXPECT_EQ(0xaa, buf[i]);
	EXPECT_EQ(-EFAULT, ash(self->fd, ASHMEM_GET_FILE_ID, 0));
}

/* Nothing is ever purged: the device's range checks, then the no-purge answers. */
TEST_F(memfd, pin_commands_check_and_never_purge)
{
	int fd = self->fd;

	EXPECT_EQ(0, pin_op(fd, ASHMEM_UNPIN, 0, page));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 0, page));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, page));
	/* len 0: from offset to the end. */
	EXPECT_EQ(0, pin_op(fd, ASHMEM_UNPIN, page, 0));
	EXPECT_EQ(ASHMEM_IS_PINNED, pin_op(fd, ASHMEM_GET_PIN_STATUS, 2 * page, 0));
	EXPECT_EQ(ASHMEM_NOT_PURGED, pin_op(fd, ASHMEM_PIN, 0, 0));

	EXPECT_EQ(-EINVAL, pin_op(fd, ASHMEM_UNPIN, 1, page));
	EXPECT_EQ(-EINVAL, pin_op(fd, ASHMEM_PIN, 0, page + 1));
	EXPECT_EQ(-EINVAL, pin_op(fd, ASHMEM_PIN, 0, 4 * page));
	EXPECT_EQ(-EINVAL, pin_op(fd, ASHMEM_GET_PIN_STATUS, 3 * page, page));
	EXPECT_EQ(-EINVAL, pin_op(fd, ASHMEM_UNPIN, -(unsigned int)page, 2 * page));
	EXPECT_EQ(-EFAULT, ash(fd, ASHMEM_PIN, 0));
	EXPECT_EQ(-EFAULT, ash(fd, ASHMEM_UNPIN, 0));
	EXPECT_EQ(-EFAULT, ash(fd, ASHMEM_GET_PIN_STATUS, 0));
}

TEST_F(memfd, purge_all_caches_needs_cap_sys_admin)
{
	EXPECT_EQ(0, ash(self->fd, ASHMEM_PURGE_ALL_CACHES, 0));
	EXPECT_EQ(0, purge_all_caches_unprivileged(self->fd));
}

TEST_F(memfd, other_commands_are_enotty)
{
	struct termios tio;

	EXPECT_EQ(-ENOTTY, ash(self->fd, _IO(__ASHMEMIOC, 99), 0));
	EXPECT_EQ(-ENOTTY, ash(self->fd, _IO(__ASHMEMIOC + 1, 4), 0));
	EXPECT_EQ(-1, ioctl(self->fd, TCGETS, &tio));
	EXPECT_EQ(ENOTTY, errno);
}

/* The first ashmem command that does not answer ENOTTY on 'fd', or 0. */
static unsigned long not_enotty(int fd)
{
	static const unsigned long cmds[] = {
		ASHMEM_GET_SIZE, ASHMEM_GET_NAME, ASHMEM_SET_NAME, ASHMEM_SET_SIZE,
		ASHMEM_GET_PROT_MASK, ASHMEM_SET_PROT_MASK, ASHMEM_PIN, ASHMEM_UNPIN,
		ASHMEM_GET_PIN_STATUS, ASHMEM_PURGE_ALL_CACHES, ASHMEM_GET_FILE_ID,
	};
	char buf[ASHMEM_NAME_LEN] = "";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (ash(fd, cmds[i], (unsigned long)buf) != -ENOTTY)
			return cmds[i];
	return 0;
}

/* A file on a tmpfs that userspace mounted, named as a memfd: not a memfd. */
TEST(tmpfs_file_named_memfd_is_enotty)
{
	char dir[] = "/tmp/ashmem-shmXXXXXX", path[64];
	int fd;

	ASSERT_TRUE(mkdtemp(dir) == dir);
	ASSERT_EQ(0, mount("tmpfs", dir, "tmpfs", 0, NULL)) TH_LOG("mount: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/memfd:x", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, sysconf(_SC_PAGESIZE)));
	EXPECT_EQ(0, not_enotty(fd));
	close(fd);
	EXPECT_EQ(0, umount(dir));
	rmdir(dir);
}

/* Opens the file behind the mapping at 'addr' of 'len' bytes, through map_files. */
static int open_mapped_file(void *addr, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)addr, (unsigned long)addr + len);
	return open(path, O_RDWR);
}

/* The shmem file of a shared /dev/zero mapping (named "dev/zero"): not a memfd. */
TEST(dev_zero_mapping_is_enotty)
{
	long size = sysconf(_SC_PAGESIZE);
	int zero = open("/dev/zero", O_RDWR), fd;
	void *map;

	ASSERT_LE(0, zero);
	EXPECT_EQ(0, not_enotty(zero));
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, zero, 0);
	ASSERT_TRUE(map != MAP_FAILED);
	fd = open_mapped_file(map, size);
	ASSERT_LE(0, fd) TH_LOG("map_files: %s", strerror(errno));
	EXPECT_EQ(0, not_enotty(fd));
	close(fd);
	munmap(map, size);
	close(zero);
}

/* The shmem file of a SysV segment (named "SYSV..."): not a memfd. */
TEST(sysv_shm_is_enotty)
{
	long size = sysconf(_SC_PAGESIZE);
	void *map;
	int id, fd;

	if (access("/proc/sysvipc", F_OK))
		SKIP(return, "no SysV IPC (CONFIG_SYSVIPC)");
	id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
	ASSERT_LE(0, id);
	map = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	ASSERT_TRUE(map != (void *)-1);
	fd = open_mapped_file(map, size);
	ASSERT_LE(0, fd) TH_LOG("map_files: %s", strerror(errno));
	EXPECT_EQ(0, not_enotty(fd));
	close(fd);
	shmdt(map);
}

/* MFD_HUGETLB memfds live on hugetlbfs, out of scope: ENOTTY. */
TEST(hugetlb_memfd_is_enotty)
{
	int fd;

	if (access("/sys/kernel/mm/hugepages", F_OK))
		SKIP(return, "no hugetlbfs (CONFIG_HUGETLBFS)");
	fd = memfd_create("huge", MFD_CLOEXEC | MFD_HUGETLB);
	ASSERT_LE(0, fd) TH_LOG("memfd_create(MFD_HUGETLB): %s", strerror(errno));
	EXPECT_EQ(0, not_enotty(fd));
	close(fd);
}

#define RACE_ROUNDS 300

struct race {
	int fd;
	int returned;		/* SET_PROT_MASK has returned */
	int stop;
	long early_maps;	/* writable shared mmaps that succeeded before it returned */
	long late_maps;		/* ...that started after it returned and succeeded */
	long late_tries;	/* mmaps started after it returned */
};

static void *race_mapper(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		int late = __atomic_load_n(&r->returned, __ATOMIC_ACQUIRE);
		void *map = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);

		if (late)
			__atomic_add_fetch(&r->late_tries, 1, __ATOMIC_RELAXED);
		if (map != MAP_FAILED) {
			__atomic_add_fetch(late ? &r->late_maps : &r->early_maps, 1,
					   __ATOMIC_RELAXED);
			munmap(map, page);
		}
	}
	return NULL;
}

/*
 * SET_PROT_MASK against concurrent writable shared mmaps: none that starts
 * after SET_PROT_MASK returned may succeed.
 */
TEST(set_prot_mask_races_mmap)
{
	long early_maps = 0, late_maps = 0, late_tries = 0;

	page = sysconf(_SC_PAGESIZE);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		struct race r = { .fd = memfd_create("race", MFD_CLOEXEC | MFD_ALLOW_SEALING) };
		pthread_t mapper;

		ASSERT_LE(0, r.fd);
		ASSERT_EQ(0, ftruncate(r.fd, page));
		ASSERT_EQ(0, pthread_create(&mapper, NULL, race_mapper, &r));
		usleep(round % 7 * 50);
		ASSERT_EQ(0, ash(r.fd, ASHMEM_SET_PROT_MASK, PROT_READ));
		__atomic_store_n(&r.returned, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&r.late_tries, __ATOMIC_RELAXED) < 3)
			sched_yield();
		__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
		ASSERT_EQ(0, pthread_join(mapper, NULL));
		early_maps += r.early_maps;
		late_maps += r.late_maps;
		late_tries += r.late_tries;
		close(r.fd);
	}
	TH_LOG("writable shared mmaps: %ld before SET_PROT_MASK returned, %ld tried after",
	       early_maps, late_tries);
	EXPECT_EQ(0, late_maps);
	/* The race ran: writable mappings succeeded until the seal came. */
	EXPECT_LT(0, early_maps);
}

TEST_HARNESS_MAIN
