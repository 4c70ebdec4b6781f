/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface of samples/rust/rust_ashmem_import.rs (/dev/ashmem_import),
 * for its tests and benchmarks: the same layout for 32-bit callers.
 */
#ifndef ASHMEM_IMPORT_H
#define ASHMEM_IMPORT_H

#include <assert.h>
#include <linux/ashmem.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define IMPORT_DEV "/dev/ashmem_import"

/* An import: fd in; kind, size, handle and name out. */
struct ashmem_import {
	int32_t fd;
	uint32_t kind;
	uint64_t size;
	uint32_t handle;
	uint32_t pad;
	char name[ASHMEM_NAME_LEN];
};

/* A kernel pin: handle, offset and len (0: to the end) in; pin and was_purged out. */
struct ashmem_import_pin {
	uint32_t handle;
	uint32_t pin;
	uint64_t offset;
	uint64_t len;
	uint32_t was_purged;
	uint32_t pad;
};

/* Bytes of a pin, from its start: CHECKSUM returns sum, FILL writes (uint8_t)pattern. */
struct ashmem_import_io {
	uint32_t pin;
	uint32_t pattern;
	uint64_t offset;
	uint64_t len;
	uint64_t sum;
};

#define ASHMEM_IMPORT		_IOWR(0xB9, 1, char[sizeof(struct ashmem_import)])
#define ASHMEM_IMPORT_PIN	_IOWR(0xB9, 2, char[sizeof(struct ashmem_import_pin)])
#define ASHMEM_IMPORT_UNPIN	_IOW(0xB9, 3, uint32_t)
#define ASHMEM_IMPORT_CHECKSUM	_IOWR(0xB9, 4, char[sizeof(struct ashmem_import_io)])
#define ASHMEM_IMPORT_FILL	_IOW(0xB9, 5, char[sizeof(struct ashmem_import_io)])
#define ASHMEM_IMPORT_RELEASE	_IOW(0xB9, 6, uint32_t)
#define ASHMEM_IMPORT_INFO	_IOWR(0xB9, 7, char[sizeof(struct ashmem_import)])
#define KIND_REGION 1
#define KIND_MEMFD 2
/* Per open file of the device. */
#define MAX_IMPORTS 16
#define MAX_PINS 64
#define MAX_PINNED_BYTES (64ULL << 20)

static_assert(sizeof(struct ashmem_import) == 280, "the sample's layout");
static_assert(offsetof(struct ashmem_import, name) == 24, "the sample's layout");
static_assert(sizeof(struct ashmem_import_pin) == 32, "the sample's layout");
static_assert(offsetof(struct ashmem_import_pin, offset) == 8, "the sample's layout");
static_assert(offsetof(struct ashmem_import_pin, len) == 16, "the sample's layout");
static_assert(offsetof(struct ashmem_import_pin, was_purged) == 24, "the sample's layout");
static_assert(sizeof(struct ashmem_import_io) == 32, "the sample's layout");
static_assert(offsetof(struct ashmem_import_io, offset) == 8, "the sample's layout");
static_assert(offsetof(struct ashmem_import_io, len) == 16, "the sample's layout");
static_assert(offsetof(struct ashmem_import_io, sum) == 24, "the sample's layout");

#define FNV_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* FNV-1a, 64-bit: what CHECKSUM computes. */
static inline uint64_t fnv1a(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = FNV_BASIS;

	while (len--) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

#endif /* ASHMEM_IMPORT_H */
