// SPDX-License-Identifier: GPL-2.0

#include <linux/swap.h>

void rust_helper_mm_account_reclaimed_pages(unsigned long pages)
{
	mm_account_reclaimed_pages(pages);
}
