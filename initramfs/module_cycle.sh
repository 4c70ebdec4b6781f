#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ashmem module and its open files: an open file keeps the module
# loaded (the file operations name it as owner); once closed, it unloads,
# and loads again. Then rounds (as many as the first argument says, or 100) of
# unload, load and use, after which shmem memory is back where it started
# (kmemleak checks the rest at the end of the run). Last, the importing
# driver: a region it pinned keeps its module loaded, not rust_ashmem's;
# both load again, and stay loaded for whatever runs next. TAP on stdout.

ko=/lib/modules/rust_ashmem.ko
cycles=${1:-100}
use="/tests/64/ashmem_test -t purge_all_caches_purges_unpinned_pages
	-t reclaim_purges_unpinned_pages -t shared_across_fork -t pin_cases"
echo "TAP version 13"
echo "1..19"

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

# The importing driver holds regions, not files of /dev/ashmem: with a region
# it pinned, its own module stays (its file is open) and rust_ashmem unloads.
# The helper's exit status has a bit per failed step (see its source).
import_ko=/lib/modules/rust_ashmem_import.ko
unload=/tests/64/ashmem_import_unload
if [ ! -f $import_ko ] || [ ! -x $unload ]; then
	for n in 9 10 11 12 13 14 15 16 17 18 19; do
		echo "ok $n importer # SKIP no $import_ko or $unload"
	done
	exit 0
fi

[ -c /dev/ashmem ] && [ -c /dev/ashmem_import ]
check $? 9 "both drivers are loaded"

$unload
bits=$?
# Killed by a signal, or not run: every step failed.
[ $bits -lt 64 ] || bits=63
check $((bits & 1)) 10 "a region is mapped, written, imported, pinned, closed and unmapped"
check $((bits >> 1 & 1)) 11 "rust_ashmem_import is not unloaded while its file is open"
check $((bits >> 2 & 1)) 12 "rust_ashmem unloads while the importer holds one of its regions"
check $((bits >> 3 & 1)) 13 "the held region's data is intact without rust_ashmem"
check $((bits >> 4 & 1)) 14 "unpin, release and closing /dev/ashmem_import succeed"
check $((bits >> 5 & 1)) 15 "rust_ashmem_import unloads once its file is closed"

[ ! -e /dev/ashmem ] && [ ! -e /dev/ashmem_import ]
check $? 16 "both device nodes are gone"

# In /init's order (its glob puts rust_ashmem first); a module the helper
# failed to unload stays as it is.
failed=0
for m in rust_ashmem rust_ashmem_import; do
	[ -d /sys/module/$m ] || insmod /lib/modules/$m.ko || failed=1
done
[ $failed = 0 ] && [ -c /dev/ashmem ] && [ -c /dev/ashmem_import ]
check $? 17 "both modules load again, and their device nodes are back"

[ "$(ls -d /sys/kernel/debug/shrinker/android-ashmem-* 2>/dev/null | wc -l)" = 1 ]
check $? 18 "one android-ashmem shrinker is registered after the reload"

/tests/64/ashmem_import_test -t region_pin_checksum_and_fill -t held_pages_survive_purges \
	>/dev/null 2>&1
check $? 19 "the reloaded drivers import, pin, and keep held pages from purges"
