// SPDX-License-Identifier: GPL-2.0

#include <linux/fs.h>
#include <linux/uio.h>

struct file *rust_helper_get_file(struct file *f)
{
	return get_file(f);
}

size_t rust_helper_iov_iter_count(const struct iov_iter *i)
{
	return iov_iter_count(i);
}

loff_t rust_helper_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void rust_helper_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

int rust_helper_inode_trylock_shared(struct inode *inode)
{
	return inode_trylock_shared(inode);
}

void rust_helper_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}
