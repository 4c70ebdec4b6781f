#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# profile.sh FLAVOUR OP [N]: where the guest's instructions go, per kernel
# function, for one ashmem operation (bench/profile/profile_ops.c: getsize,
# pair). Boots build/FLAVOUR twice under -icount with a QEMU plugin counting
# executed instructions per translation block (bench/profile/insn_count.c):
# once repeating OP N times, once doing nothing, and prints the difference
# divided by N, by function. For finding costs, not a benchmark: make bench
# gives the timings.
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: profile.sh FLAVOUR OP [N]} op=${2:?usage: profile.sh FLAVOUR OP [N]}
n=${3:-100000}
out=$BUILD/$flavour
prof=$out/profile
mkdir -p "$prof"
flavour_setup "$flavour"
[ "$KARCH" = x86_64 ] || die "profile.sh: x86_64 flavours only"
[ -f "$out/$IMAGE" ] || die "no $out/$IMAGE: build the $flavour kernel first"
gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$prof/insn_count.so" \
	"$REPO/bench/profile/insn_count.c"
kmake "$out" -s headers
gcc -static -O2 -Wall -Wextra -Werror -isystem "$out/usr/include" \
	-o "$prof/profile_ops" "$REPO/bench/profile/profile_ops.c"
DEMO=$prof/profile_ops "$REPO/scripts/build-initramfs.sh" "$flavour"
for run in none:0 "$op:$n"; do
	what=${run%%:*} count=${run#*:}
	VM_QEMU_ARGS="-icount shift=1,sleep=off -plugin $prof/insn_count.so,out=$prof/$what.counts" \
		VM_X86_CPU=max VM_CPUS=1 "$REPO/scripts/run-vm.sh" "$out/$IMAGE" \
		"$out/initramfs-demo.cpio.gz" "$prof/$what" profile.op="$what" profile.n="$count" nokaslr \
		rcupdate.rcu_cpu_stall_timeout=300
	grep -q "^profile: done $count" "$prof/$what/tap.log" ||
		die "the $what boot did not finish (console: $prof/$what/console.log)"
done
python3 "$REPO/scripts/profile-report.py" "$out/vmlinux" "$prof/none.counts" \
	"$prof/$op.counts" "$n" | tee "$prof/$op.txt"
