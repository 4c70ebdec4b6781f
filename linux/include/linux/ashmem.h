/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ashmem regions for drivers that take ashmem fds from apps: the interface
 * Android's vendor modules use, implemented in rust/kernel/ashmem/.
 *
 * Each function takes a file the caller holds a reference to. Only open
 * files of devices registered with kernel::ashmem::Registration (such as
 * samples/rust/rust_ashmem.rs) are ashmem regions; memfds are not. None of
 * Android's four keeps pages from being purged while userspace has them
 * unpinned: ashmem_area_pin() does, for regions and memfds.
 */
#ifndef _LINUX_ASHMEM_H
#define _LINUX_ASHMEM_H

#include <linux/errno.h>
#include <linux/types.h>
#include <uapi/linux/ashmem.h>

struct file;
struct page;
/* A kernel pin of a region's or memfd's pages: kernel::ashmem::KernelPin */
struct ashmem_kernel_pin;

#define ASHMEM_NAME_PREFIX "dev/ashmem/"
#define ASHMEM_NAME_PREFIX_LEN (sizeof(ASHMEM_NAME_PREFIX) - 1)
/* The full name, ASHMEM_NAME_PREFIX and the region's name, NUL included */
#define ASHMEM_FULL_NAME_LEN (ASHMEM_NAME_LEN + ASHMEM_NAME_PREFIX_LEN)

#ifdef CONFIG_RUST_ASHMEM
/* Whether @file is an ashmem region; false for NULL. Does not sleep; not for IRQs. */
bool is_ashmem_file(struct file *file);
/*
 * Writes "dev/ashmem/<name>", or "dev/ashmem" without a name, into @name,
 * ASHMEM_FULL_NAME_LEN bytes; 0, or -EINVAL for a NULL @name or a file that
 * is not a region. This and the two below may sleep.
 */
int ashmem_area_name(struct file *file, char *name);
/* The size in bytes; 0 for a file that is not a region. */
long ashmem_area_size(struct file *file);
/*
 * The backing shmem file with a reference the caller drops with fput(), or
 * NULL if @file is not a region or was never mapped.
 */
struct file *ashmem_area_vmfile(struct file *file);
#endif

#if defined(CONFIG_RUST_ASHMEM) && defined(CONFIG_MEMFD_CREATE)
/*
 * Pins the pages of region or memfd @file from byte @offset for @len bytes
 * (0: to the end), allocating holes: they stay resident and are never purged
 * until ashmem_area_unpin(*@pin), whatever userspace pins or unpins. With
 * @write, also checks now that the kernel may write them: -EBADF if @file is
 * not open for writing, -EPERM if the region's mask lacks PROT_WRITE or the
 * memfd is sealed against writes. Returns ASHMEM_NOT_PURGED, or
 * ASHMEM_WAS_PURGED if a page was purged before (it reads as zeros); or, with
 * *@pin untouched, -EINVAL for NULL arguments, other files, a range not page
 * aligned or past the page-aligned size, a region never mapped, or a memfd
 * without F_SEAL_SHRINK; -EBADF for a file not open for reading; -ENOSPC past
 * 64 pins of a region or a tmpfs size limit; -ENOMEM. Sleeps.
 */
int ashmem_area_pin(struct file *file, size_t offset, size_t len, bool write,
		    struct ashmem_kernel_pin **pin);
/* Drops @pin (nothing for NULL); its pages may not be used after. Sleeps. */
void ashmem_area_unpin(struct ashmem_kernel_pin *pin);
/* Page @index of @pin, valid until ashmem_area_unpin(); NULL past the end. */
struct page *ashmem_area_pin_page(const struct ashmem_kernel_pin *pin,
				  pgoff_t index);
#else
static inline int ashmem_area_pin(struct file *file, size_t offset, size_t len,
				  bool write, struct ashmem_kernel_pin **pin)
{
	return -EINVAL;
}

static inline void ashmem_area_unpin(struct ashmem_kernel_pin *pin)
{
}

static inline struct page *ashmem_area_pin_page(const struct ashmem_kernel_pin *pin,
						pgoff_t index)
{
	return NULL;
}
#endif

#ifndef CONFIG_RUST_ASHMEM
static inline bool is_ashmem_file(struct file *file)
{
	return false;
}

static inline int ashmem_area_name(struct file *file, char *name)
{
	return -EINVAL;
}

static inline long ashmem_area_size(struct file *file)
{
	return 0;
}

static inline struct file *ashmem_area_vmfile(struct file *file)
{
	return NULL;
}
#endif

#endif /* _LINUX_ASHMEM_H */
