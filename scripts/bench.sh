#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh: build the release kernel (no debug options, the sample built in),
# boot it twice with bench/ashmem_bench.c as its program, and print the
# table, also written to build/release/bench.md. The first boot runs under
# QEMU's -icount (guest time follows instructions executed); the second,
# plain multi-threaded TCG with 2 CPUs, runs what needs both CPUs at once:
# B5, and B7 again with its two threads running at once (under -icount the
# program keeps to CPU 0: QEMU lets a busy vCPU starve the other there).
# B9 boots that kernel once more, and the same tree without
# CONFIG_RUST_ASHMEM_MEMFD once, under -icount, each running only B9's
# measurement: what the option costs files that are not memfds.
# Then the anchor kernel (configs/anchor.config: tinyconfig, -Os, the
# configuration of the C driver's figures in issue 21) runs the -icount rows
# again, B11 against issue 21's targets; its table follows the release one.
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
VM_QEMU_ARGS="-icount shift=1,sleep=off" VM_X86_CPU=max "$S/run-vm.sh" "$kernel" "$initrd" \
	"$out/bench-icount" bench.mode=icount rcupdate.rcu_cpu_stall_timeout=300
VM_X86_CPU=max "$S/run-vm.sh" "$kernel" "$initrd" "$out/bench-smp" bench.mode=smp

# B9: the option's cost to files that are not memfds, against the same tree
# built without CONFIG_RUST_ASHMEM_MEMFD (one more kernel); both boots run
# the same measurement and nothing else.
VM_QEMU_ARGS="-icount shift=1,sleep=off" VM_X86_CPU=max "$S/run-vm.sh" "$kernel" "$initrd" \
	"$out/bench-hook" bench.mode=hook rcupdate.rcu_cpu_stall_timeout=300
"$S/build-kernel.sh" release-nomemfd
off=$BUILD/release-nomemfd
DEMO=$out/ashmem_bench "$S/build-initramfs.sh" release-nomemfd
VM_QEMU_ARGS="-icount shift=1,sleep=off" VM_X86_CPU=max "$S/run-vm.sh" "$off/arch/x86/boot/bzImage" \
	"$off/initramfs-demo.cpio.gz" "$off/bench-hook" bench.mode=hook \
	rcupdate.rcu_cpu_stall_timeout=300
read -r on_other on_ashmem < <(sed -n 's/^bench-hook: //p' "$out/bench-hook/tap.log" | tr -d '\r')
read -r off_other off_ashmem < <(sed -n 's/^bench-hook: //p' "$off/bench-hook/tap.log" | tr -d '\r')
[ -n "${on_other:-}" ] && [ -n "${off_other:-}" ] || die "B9: a boot printed no bench-hook figures"

# The anchor configuration, under -icount.
"$S/build-kernel.sh" anchor
anchor=$BUILD/anchor
DEMO=$out/ashmem_bench "$S/build-initramfs.sh" anchor
VM_QEMU_ARGS="-icount shift=1,sleep=off" VM_X86_CPU=max "$S/run-vm.sh" "$anchor/arch/x86/boot/bzImage" \
	"$anchor/initramfs-demo.cpio.gz" "$anchor/bench-icount" bench.mode=icount bench.config=anchor \
	rcupdate.rcu_cpu_stall_timeout=300

table=$out/bench.md
{
	echo "ashmem benchmarks, release kernel $(cat "$REPO/series/base-version") with the series, $(date -u +%F)"
	echo "B1-B4, B6-B9: QEMU -icount shift=1,sleep=off, 2 vCPUs, the program bound to CPU 0; B5 and B7 again: multi-threaded TCG, 2 vCPUs. B9's baseline is the same tree built without CONFIG_RUST_ASHMEM_MEMFD."
	echo "Each figure is a median over repeats; baselines come from the same boot."
	echo
	grep -h '^|' "$out/bench-icount/tap.log" | tr -d '\r'
	grep -h "^| B[57]" "$out/bench-smp/tap.log" | tr -d '\r'
	awk -v a="$on_other" -v b="$off_other" -v c="$on_ashmem" -v d="$off_ashmem" 'BEGIN {
		printf "| B9 | ioctl of another driver on a tmpfs file (not a memfd), with CONFIG_RUST_ASHMEM_MEMFD, -icount | %.0f ns | without: %.0f ns | %.3fx | <= 1.01x | %s |\n", a, b, a / b, a / b <= 1.01 ? "met" : "missed"
		printf "| B9 | ASHMEM_GET_SIZE on a tmpfs file (not a memfd), with CONFIG_RUST_ASHMEM_MEMFD, -icount | %.0f ns | without: %.0f ns | %.3fx | <= 1.01x | %s |\n", c, d, c / d, c / d <= 1.01 ? "met" : "missed"
	}'
	echo
	echo "The anchor configuration (configs/anchor.config: tinyconfig, so -Os; the C driver's figures of issue 21 were measured on it), -icount, as B1-B4, B6-B8 and B10 above; B11 against issue 21's targets:"
	echo
	grep -h '^|' "$anchor/bench-icount/tap.log" | tr -d '\r'
} >"$table"
cat "$table"
for run in "$out/bench-icount" "$out/bench-smp" "$out/bench-hook" "$off/bench-hook" "$anchor/bench-icount"; do
	grep -q '^bench: done' "$run/tap.log" ||
		die "$run did not finish: $(grep -h 'bench:' "$run/tap.log" | tail -1) (console: $run/console.log)"
	python3 "$S/parse-results.py" "$run/console.log" "$run/tap.log" \
		--no-self-check >"$run/verdict.txt" || {
		cat "$run/verdict.txt"
		die "the boot of $run was not clean (console: $run/console.log)"
	}
done
note "table written to $table; kernel logs clean"
