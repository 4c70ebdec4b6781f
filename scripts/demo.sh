#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# demo.sh: build the patched debug kernel, boot it with initramfs/ashmem_demo.c
# (built static) as the program to run, and print what the demo says, then
# whether the kernel log stayed clean. ARCH=arm64 (make demo ARCH=arm64)
# does it on the arm64 debug kernel, with 4K pages or, with PAGES=16k, 16K.
demo_arch=${ARCH:-x86_64}
. "$(dirname "$0")/common.sh"

case $demo_arch in
x86 | x86_64) flavour=debug cc="gcc" ;;
arm64) flavour=arm64-${PAGES:-4k} cc="clang$LLVM_SUFFIX -fuse-ld=lld --target=aarch64-linux-gnu" ;;
*) die "ARCH=$demo_arch: the demo runs on x86_64 or arm64" ;;
esac
[ -f "$REPO/configs/$flavour.config" ] || die "PAGES=${PAGES:-}: 4k or 16k"
flavour_setup "$flavour"
out=$BUILD/$flavour

S=$REPO/scripts
"$S/setup-host.sh"
"$S/series.sh" tree
"$S/build-kernel.sh" "$flavour"
kmake "$out" -s headers
$cc -static -O2 -Wall -Werror -isystem "$out/usr/include" \
	-o "$out/ashmem_demo" "$REPO/initramfs/ashmem_demo.c"
DEMO=$out/ashmem_demo "$S/build-initramfs.sh" "$flavour"
run=$out/demo-run
"$S/run-vm.sh" "$out/$IMAGE" "$out/initramfs-demo.cpio.gz" "$run"
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
