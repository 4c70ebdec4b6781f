// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the C interface to ashmem regions (include/linux/ashmem.h)
 * on files of /dev/ashmem, which an ashmem driver must provide.
 */
#include <kunit/test.h>
#include <linux/ashmem.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mman.h>
#include <linux/shmem_fs.h>

KUNIT_DEFINE_ACTION_WRAPPER(fput_action, fput, struct file *);

/* Opens a region, which the test puts at its end. */
static struct file *open_region(struct kunit *test)
{
	struct file *file = filp_open("/dev/ashmem", O_RDWR, 0);

	/* Built in, the suite runs before /dev is mounted. */
	if (file == ERR_PTR(-ENOENT) || file == ERR_PTR(-ENXIO) || file == ERR_PTR(-ENODEV))
		kunit_skip(test, "no /dev/ashmem: load this after the ashmem sample");
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(file), "open /dev/ashmem: %ld", PTR_ERR(file));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_action, file), 0);
	return file;
}

static void ashmem_region_name_size_and_backing(struct kunit *test)
{
	struct file *file = open_region(test);
	char name[ASHMEM_FULL_NAME_LEN];
	struct file *vmfile;
	unsigned long addr;

	KUNIT_EXPECT_TRUE(test, is_ashmem_file(file));
	memset(name, 'x', sizeof(name));
	KUNIT_EXPECT_EQ(test, ashmem_area_name(file, name), 0);
	KUNIT_EXPECT_STREQ(test, name, "dev/ashmem");
	KUNIT_EXPECT_EQ(test, ashmem_area_name(file, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, ashmem_area_size(file), 0);
	KUNIT_EXPECT_NULL(test, ashmem_area_vmfile(file));

	/* ASHMEM_SET_SIZE takes its value, not a user pointer. */
	KUNIT_ASSERT_EQ(test, file->f_op->unlocked_ioctl(file, ASHMEM_SET_SIZE,
							 3 * PAGE_SIZE + 1), 0);
	KUNIT_EXPECT_EQ(test, ashmem_area_size(file), 3 * PAGE_SIZE + 1);

	/* The first mmap creates the backing file, which is not a region. */
	addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	KUNIT_ASSERT_TRUE(test, addr && !IS_ERR_VALUE(addr));
	vmfile = ashmem_area_vmfile(file);
	KUNIT_ASSERT_NOT_NULL(test, vmfile);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_action, vmfile), 0);
	KUNIT_EXPECT_TRUE(test, shmem_file(vmfile));
	KUNIT_EXPECT_FALSE(test, is_ashmem_file(vmfile));
	KUNIT_EXPECT_EQ(test, i_size_read(file_inode(vmfile)), 3 * PAGE_SIZE + 1);
}

static void ashmem_other_files_are_not_regions(struct kunit *test)
{
	struct file *file = shmem_file_setup("kunit-not-ashmem", PAGE_SIZE, 0);
	char name[ASHMEM_FULL_NAME_LEN];

	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_action, file), 0);
	KUNIT_EXPECT_FALSE(test, is_ashmem_file(file));
	KUNIT_EXPECT_EQ(test, ashmem_area_name(file, name), -EINVAL);
	KUNIT_EXPECT_EQ(test, ashmem_area_size(file), 0);
	KUNIT_EXPECT_NULL(test, ashmem_area_vmfile(file));

	KUNIT_EXPECT_FALSE(test, is_ashmem_file(NULL));
	KUNIT_EXPECT_EQ(test, ashmem_area_name(NULL, name), -EINVAL);
	KUNIT_EXPECT_EQ(test, ashmem_area_size(NULL), 0);
	KUNIT_EXPECT_NULL(test, ashmem_area_vmfile(NULL));
}

KUNIT_DEFINE_ACTION_WRAPPER(unpin_action, ashmem_area_unpin, struct ashmem_kernel_pin *);

static void ashmem_kernel_pin(struct kunit *test)
{
	struct file *file = open_region(test);
	struct file *other = shmem_file_setup("kunit-not-ashmem", PAGE_SIZE, 0);
	struct ashmem_kernel_pin *pin = NULL;
	char buf[6] = "";
	struct file *vmfile;
	unsigned long addr;
	loff_t pos;

	KUNIT_ASSERT_FALSE(test, IS_ERR(other));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_action, other), 0);
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(other, 0, 0, false, &pin), -EINVAL);
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(NULL, 0, 0, false, &pin), -EINVAL);
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(file, 0, 0, false, NULL), -EINVAL);
	ashmem_area_unpin(NULL);

	KUNIT_ASSERT_EQ(test, file->f_op->unlocked_ioctl(file, ASHMEM_SET_SIZE,
							 3 * PAGE_SIZE + 1), 0);
	/* Never mapped: no backing file to pin. */
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(file, 0, 0, false, &pin), -EINVAL);
	addr = kunit_vm_mmap(test, file, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	KUNIT_ASSERT_TRUE(test, addr && !IS_ERR_VALUE(addr));
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(file, 1, 0, false, &pin), -EINVAL);
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(file, 0, 5 * PAGE_SIZE, false, &pin), -EINVAL);
	KUNIT_EXPECT_NULL(test, pin);

	/* The partial last page counts: four pages. */
	KUNIT_ASSERT_EQ(test, ashmem_area_pin(file, 0, 0, true, &pin), ASHMEM_NOT_PURGED);
	KUNIT_ASSERT_NOT_NULL(test, pin);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, unpin_action, pin), 0);
	KUNIT_EXPECT_NOT_NULL(test, ashmem_area_pin_page(pin, 3));
	KUNIT_EXPECT_NULL(test, ashmem_area_pin_page(pin, 4));
	KUNIT_ASSERT_NOT_NULL(test, ashmem_area_pin_page(pin, 2));
	memcpy_to_page(ashmem_area_pin_page(pin, 2), 7, "pinned", 6);

	/* The pinned page is the backing file's. */
	vmfile = ashmem_area_vmfile(file);
	KUNIT_ASSERT_NOT_NULL(test, vmfile);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, fput_action, vmfile), 0);
	pos = 2 * PAGE_SIZE + 7;
	KUNIT_EXPECT_EQ(test, kernel_read(vmfile, buf, 6, &pos), 6);
	KUNIT_EXPECT_MEMEQ(test, buf, "pinned", 6);
	KUNIT_EXPECT_NULL(test, ashmem_area_pin_page(NULL, 0));

	/* Without PROT_WRITE in the mask, pins for writing are refused. */
	KUNIT_ASSERT_EQ(test, file->f_op->unlocked_ioctl(file, ASHMEM_SET_PROT_MASK, PROT_READ), 0);
	pin = NULL;
	KUNIT_EXPECT_EQ(test, ashmem_area_pin(file, 0, 0, true, &pin), -EPERM);
	KUNIT_EXPECT_NULL(test, pin);
	/* Nothing to drop, unless the expectations above failed. */
	ashmem_area_unpin(pin);
	KUNIT_ASSERT_EQ(test, ashmem_area_pin(file, 0, PAGE_SIZE, false, &pin), ASHMEM_NOT_PURGED);
	ashmem_area_unpin(pin);
}

static struct kunit_case ashmem_c_interface_cases[] = {
	KUNIT_CASE(ashmem_region_name_size_and_backing),
	KUNIT_CASE(ashmem_other_files_are_not_regions),
	KUNIT_CASE(ashmem_kernel_pin),
	{}
};

static struct kunit_suite ashmem_c_interface_suite = {
	.name = "ashmem_c_interface",
	.test_cases = ashmem_c_interface_cases,
};

kunit_test_suite(ashmem_c_interface_suite);

MODULE_DESCRIPTION("KUnit tests of the C interface to ashmem regions");
MODULE_LICENSE("GPL");
