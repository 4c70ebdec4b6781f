// SPDX-License-Identifier: GPL-2.0

#include <linux/lockdep.h>
#include <linux/rwsem.h>

void rust_helper_lockdep_set_class_and_name_rwsem(struct rw_semaphore *sem,
						  struct lock_class_key *key,
						  const char *name)
{
	lockdep_set_class_and_name(sem, key, name);
}
