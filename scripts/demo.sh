#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# demo.sh: build the patched debug kernel, boot it with initramfs/ashmem_demo.c
# (built static) as the program to run, and print what the demo says, then
# whether the kernel log stayed clean.
. "$(dirname "$0")/common.sh"

S=$REPO/scripts
"$S/setup-host.sh"
"$S/series.sh" tree
"$S/build-kernel.sh" debug
kmake "$BUILD/debug" -s headers
gcc -static -O2 -Wall -Werror -isystem "$BUILD/debug/usr/include" \
	-o "$BUILD/debug/ashmem_demo" "$REPO/initramfs/ashmem_demo.c"
DEMO=$BUILD/debug/ashmem_demo "$S/build-initramfs.sh" debug
run=$BUILD/debug/demo-run
"$S/run-vm.sh" "$BUILD/debug/arch/x86/boot/bzImage" \
	"$BUILD/debug/initramfs-demo.cpio.gz" "$run"
echo "----- the demo, as it ran in the VM -----"
grep -v '^# harness: done' "$run/tap.log" | tr -d '\r'
echo "-----------------------------------------"
grep -q '^Done: ' "$run/tap.log" && ! grep -q 'wrong!' "$run/tap.log" ||
	die "the demo did not end, or saw behaviour Android userspace would not expect"
python3 "$S/parse-results.py" "$run/console.log" "$run/tap.log" --no-self-check >"$run/verdict.txt" || {
	cat "$run/verdict.txt"
	die "the demo boot was not clean (console: $run/console.log)"
}
note "kernel log clean: no warning, no KASAN, lockdep or kmemleak report (console: $run/console.log)"
