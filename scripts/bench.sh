#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh: build the release kernel (no debug options, the sample built in),
# boot it twice with bench/ashmem_bench.c as its program, and print the
# table, also written to build/release/bench.md. The first boot runs under
# QEMU's -icount (guest time follows instructions executed); the second,
# plain multi-threaded TCG with 2 CPUs, runs what needs both CPUs at once:
# B5, and B7 again with its two threads running at once (under -icount the
# program keeps to CPU 0: QEMU lets a busy vCPU starve the other there).
. "$(dirname "$0")/common.sh"

S=$REPO/scripts
"$S/setup-host.sh"
"$S/series.sh" tree
"$S/build-kernel.sh" release
out=$BUILD/release
kmake "$out" -s headers
gcc -static -O2 -Wall -Wextra -Werror -pthread -isystem "$out/usr/include" \
	-I "$SRC/tools/testing/selftests/ashmem" \
	-o "$out/ashmem_bench" "$REPO/bench/ashmem_bench.c"
DEMO=$out/ashmem_bench "$S/build-initramfs.sh" release
kernel=$out/arch/x86/boot/bzImage initrd=$out/initramfs-demo.cpio.gz
# Under -icount with sleep=off, guest time jumps ahead while a CPU idles: RCU
# sees "stalls" of seconds that no real CPU had (one showed at the TSC
# recalibration during boot). This boot waits the longest stall timeout
# there is before it reports one; the debug boots of make check keep the
# default.
VM_QEMU_ARGS="-icount shift=1,sleep=off" "$S/run-vm.sh" "$kernel" "$initrd" \
	"$out/bench-icount" bench.mode=icount rcupdate.rcu_cpu_stall_timeout=300
"$S/run-vm.sh" "$kernel" "$initrd" "$out/bench-smp" bench.mode=smp

table=$out/bench.md
{
	echo "ashmem benchmarks, release kernel $(cat "$REPO/series/base-version") with the series, $(date -u +%F)"
	echo "B1-B4, B6, B7: QEMU -icount shift=1,sleep=off, 2 vCPUs, the program bound to CPU 0; B5 and B7 again: multi-threaded TCG, 2 vCPUs."
	echo "Each figure is a median over repeats; baselines come from the same boot."
	echo
	grep -h '^|' "$out/bench-icount/tap.log" | tr -d '\r'
	grep -h "^| B[57]" "$out/bench-smp/tap.log" | tr -d '\r'
} >"$table"
cat "$table"
for run in bench-icount bench-smp; do
	grep -q '^bench: done' "$out/$run/tap.log" ||
		die "$run did not finish: $(grep -h 'bench:' "$out/$run/tap.log" | tail -1) (console: $out/$run/console.log)"
	python3 "$S/parse-results.py" "$out/$run/console.log" "$out/$run/tap.log" \
		--no-self-check >"$out/$run/verdict.txt" || {
		cat "$out/$run/verdict.txt"
		die "the $run boot was not clean (console: $out/$run/console.log)"
	}
done
note "table written to $table; kernel logs clean"
