#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ashmem module and its open files: an open file keeps the module
# loaded (the file operations name it as owner); once closed, it unloads,
# and loads again. Then rounds (as many as the first argument says, or 100) of
# unload, load and use, after which shmem memory is back where it started
# (kmemleak checks the rest at the end of the run). TAP on stdout.

ko=/lib/modules/rust_ashmem.ko
cycles=${1:-100}
use="/tests/64/ashmem_test -t purge_all_caches_purges_unpinned_pages
	-t reclaim_purges_unpinned_pages -t shared_across_fork -t pin_cases"
echo "TAP version 13"
echo "1..8"

check() {
	if [ "$1" = 0 ]; then echo "ok $2 $3"; else echo "not ok $2 $3"; fi
}

# shmem_kb: the Shmem: line of /proc/meminfo, after dropping every cache and
# folding the per-CPU parts of the counters in (stat_refresh, which only SMP
# kernels have: uniprocessor ones keep no per-CPU parts).
shmem_kb() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	[ ! -e /proc/sys/vm/stat_refresh ] || echo 1 >/proc/sys/vm/stat_refresh
	sed -n 's/^Shmem: *\([0-9]*\) kB/\1/p' /proc/meminfo
}

[ -c /dev/ashmem ]
check $? 1 "the device node exists while the module is loaded"

exec 9<>/dev/ashmem
rmmod rust_ashmem 2>/dev/null
check $((! $?)) 2 "rmmod is refused while a file is open"
exec 9>&-

rmmod rust_ashmem
check $? 3 "rmmod succeeds once the file is closed"

[ ! -e /dev/ashmem ]
check $? 4 "the device node is gone"

insmod $ko && [ -c /dev/ashmem ]
check $? 5 "the module loads again"

# Warm up once, so that first-use allocations do not count as growth.
$use >/dev/null 2>&1
start=$(shmem_kb)
failed=0
i=0
while [ $i -lt "$cycles" ]; do
	rmmod rust_ashmem && insmod $ko && $use >/dev/null 2>&1 || failed=$((failed + 1))
	i=$((i + 1))
done
check $failed 6 "$cycles cycles of unload, load and use ($failed failed)"

# Each use leaves pages in the regions it closes; a leaked region would
# keep at least one page per cycle. Less growth than that is not a leak of
# ours (the first cycles warm caches up).
end=$(shmem_kb)
# The page size (busybox has no getconf), from the first mapping of awk.
page_kb=$(awk '/^KernelPageSize:/ { print $2; exit }' /proc/self/smaps)
[ -n "$start" ] && [ -n "$end" ] && [ -n "$page_kb" ] && [ $((end - start)) -lt $((cycles * page_kb)) ]
check $? 7 "Shmem: after drop_caches grew by less than a page ($page_kb kB) per cycle ($start kB before, $end kB after)"

[ "$(ls -d /sys/kernel/debug/shrinker/android-ashmem-* 2>/dev/null | wc -l)" = 1 ]
check $? 8 "one android-ashmem shrinker is registered after the cycles"
