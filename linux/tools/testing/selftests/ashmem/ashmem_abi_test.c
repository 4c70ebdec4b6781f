// SPDX-License-Identifier: GPL-2.0
/*
 * The ashmem UAPI header against the numbers Android userspace has always
 * used: a changed number would break every binary built with the old one.
 * Built 64-bit and 32-bit; commands whose argument size follows the ABI's
 * word size differ between the two.
 *
 * The literals are the numbers Android's own prebuilt binaries carry, which
 * follow the asm-generic ioctl layout (2 direction bits, write = 1, read = 2,
 * 14 size bits) of every architecture Android ships: arm, arm64, x86, riscv.
 * Elsewhere (powerpc, mips, sparc, alpha, parisc) the same _IOW() gives other
 * numbers, and the literal checks are skipped.
 */
#include <linux/ashmem.h>
#include <linux/ioctl.h>
#include <stddef.h>

#include "../kselftest_harness.h"

#ifdef __LP64__
#define WORD_SIZE_FIELD 0x00080000u
#else
#define WORD_SIZE_FIELD 0x00040000u
#endif

/*
 * The literal numbers hold on the asm-generic ioctl layout only; elsewhere
 * one test says so and skips, and the constants and the layout of struct
 * ashmem_pin are still checked.
 */
#if _IOC_SIZEBITS == 14 && _IOC_DIRBITS == 2 && _IOC_NONE == 0U && \
	_IOC_WRITE == 1U && _IOC_READ == 2U

TEST(set_name)
{
	EXPECT_EQ(0x41007701u, ASHMEM_SET_NAME);
}

TEST(get_name)
{
	EXPECT_EQ(0x81007702u, ASHMEM_GET_NAME);
}

TEST(set_size)
{
	EXPECT_EQ(0x40007703u | WORD_SIZE_FIELD, ASHMEM_SET_SIZE);
}

TEST(get_size)
{
	EXPECT_EQ(0x00007704u, ASHMEM_GET_SIZE);
}

TEST(set_prot_mask)
{
	EXPECT_EQ(0x40007705u | WORD_SIZE_FIELD, ASHMEM_SET_PROT_MASK);
}

TEST(get_prot_mask)
{
	EXPECT_EQ(0x00007706u, ASHMEM_GET_PROT_MASK);
}

TEST(pin)
{
	EXPECT_EQ(0x40087707u, ASHMEM_PIN);
}

TEST(unpin)
{
	EXPECT_EQ(0x40087708u, ASHMEM_UNPIN);
}

TEST(get_pin_status)
{
	EXPECT_EQ(0x00007709u, ASHMEM_GET_PIN_STATUS);
}

TEST(purge_all_caches)
{
	EXPECT_EQ(0x0000770au, ASHMEM_PURGE_ALL_CACHES);
}

TEST(get_file_id)
{
	EXPECT_EQ(0x8000770bu | WORD_SIZE_FIELD, ASHMEM_GET_FILE_ID);
}

#else

TEST(ioctl_numbers)
{
	SKIP(return, "not the asm-generic ioctl layout that Android's numbers are for");
}

#endif

TEST(constants)
{
	EXPECT_EQ(256, ASHMEM_NAME_LEN);
	EXPECT_STREQ("dev/ashmem", ASHMEM_NAME_DEF);
	EXPECT_EQ(0, ASHMEM_NOT_PURGED);
	EXPECT_EQ(1, ASHMEM_WAS_PURGED);
	EXPECT_EQ(0, ASHMEM_IS_UNPINNED);
	EXPECT_EQ(1, ASHMEM_IS_PINNED);
}

TEST(pin_struct_layout)
{
	struct ashmem_pin pin;

	EXPECT_EQ(8, sizeof(pin));
	EXPECT_EQ(0, offsetof(struct ashmem_pin, offset));
	EXPECT_EQ(4, offsetof(struct ashmem_pin, len));
}

TEST_HARNESS_MAIN
