/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ashmem: shared memory regions that userspace can name, size, protect,
 * map, and unpin so that the kernel may purge them under memory pressure.
 *
 * This is the interface of /dev/ashmem that Android userspace relies on.
 */
#ifndef _UAPI_LINUX_ASHMEM_H
#define _UAPI_LINUX_ASHMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* A region's name, NUL included; names set by userspace are truncated. */
#define ASHMEM_NAME_LEN		256
/* The name a region reports before one is set. */
#define ASHMEM_NAME_DEF		"dev/ashmem"

/* Results of ASHMEM_PIN: was any page purged while it was unpinned? */
#define ASHMEM_NOT_PURGED	0
#define ASHMEM_WAS_PURGED	1

/* Results of ASHMEM_GET_PIN_STATUS. */
#define ASHMEM_IS_UNPINNED	0
#define ASHMEM_IS_PINNED	1

/*
 * A page-aligned byte range of a region for ASHMEM_PIN, ASHMEM_UNPIN and
 * ASHMEM_GET_PIN_STATUS. A len of 0 means "from offset to the end".
 */
struct ashmem_pin {
	__u32 offset;
	__u32 len;
};

#define __ASHMEMIOC		0x77

#define ASHMEM_SET_NAME		_IOW(__ASHMEMIOC, 1, char[ASHMEM_NAME_LEN])
#define ASHMEM_GET_NAME		_IOR(__ASHMEMIOC, 2, char[ASHMEM_NAME_LEN])
/* The size is passed as the ioctl argument itself, not through a pointer. */
#define ASHMEM_SET_SIZE		_IOW(__ASHMEMIOC, 3, __kernel_size_t)
#define ASHMEM_GET_SIZE		_IO(__ASHMEMIOC, 4)
/* The mask is passed as the ioctl argument; bits can only be removed. */
#define ASHMEM_SET_PROT_MASK	_IOW(__ASHMEMIOC, 5, unsigned long)
#define ASHMEM_GET_PROT_MASK	_IO(__ASHMEMIOC, 6)
#define ASHMEM_PIN		_IOW(__ASHMEMIOC, 7, struct ashmem_pin)
#define ASHMEM_UNPIN		_IOW(__ASHMEMIOC, 8, struct ashmem_pin)
/* Takes a struct ashmem_pin pointer although it is encoded as _IO. */
#define ASHMEM_GET_PIN_STATUS	_IO(__ASHMEMIOC, 9)
#define ASHMEM_PURGE_ALL_CACHES	_IO(__ASHMEMIOC, 10)
/* Writes the inode number of the backing file once the region is mapped. */
#define ASHMEM_GET_FILE_ID	_IOR(__ASHMEMIOC, 11, unsigned long)

#endif /* _UAPI_LINUX_ASHMEM_H */
