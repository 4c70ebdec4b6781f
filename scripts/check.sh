#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--no-gates]: the whole test suite. Set-up, the series gates, the
# debug kernel (built with clippy), rustdoc and Sphinx, one boot of it that
# runs KUnit and the userspace suites, the same on a uniprocessor debug kernel
# with the sample built in, then the release kernel (sample built in, KUnit a
# module) and one boot of it for the userspace suites. Ends with
# 'N passed, N failed' over the three boots.
# PROVOKE=WARNING makes the guest trigger a kernel warning mid-run, which
# must fail the run: the harness proving it is not blind.
. "$(dirname "$0")/common.sh"

gates=1
[ "${1:-}" = --no-gates ] && gates=0
S=$REPO/scripts
t0=$(date +%s)

step() {
	local name=$1 t
	shift
	t=$(date +%s)
	echo "=== $name"
	"$@"
	echo "=== $name: $(($(date +%s) - t)) s"
}

step setup "$S/setup-host.sh"
step tree "$S/series.sh" tree
if [ $gates = 1 ]; then
	step series "$S/series.sh" verify
	step checkpatch "$S/gates.sh" checkpatch
	step maintainers "$S/gates.sh" maintainers
fi
step kernel "$S/build-kernel.sh" debug
if [ $gates = 1 ]; then
	step rustfmt "$S/gates.sh" rustfmt
	step rustdoc "$S/gates.sh" rustdoc debug
	step htmldocs "$S/gates.sh" htmldocs debug
fi
step initramfs "$S/build-initramfs.sh" debug

run=$BUILD/debug/run
args=
[ -n "${PROVOKE:-}" ] && args="harness.provoke=$PROVOKE"
step vm "$S/run-vm.sh" "$BUILD/debug/arch/x86/boot/bzImage" \
	"$BUILD/debug/initramfs.cpio.gz" "$run" $args

# The uniprocessor debug kernel, the sample built in (so its shrinker is
# registered before the doctests run): KUnit and the selftests again.
step up-kernel "$S/build-kernel.sh" up
step up-initramfs "$S/build-initramfs.sh" up
up=$BUILD/up/run
step up-vm env VM_CPUS=1 "$S/run-vm.sh" "$BUILD/up/arch/x86/boot/bzImage" \
	"$BUILD/up/initramfs.cpio.gz" "$up" $args

# The release kernel, the sample built in and KUnit a module (as GKI builds
# it): the selftests again, without the instruments (so without KUnit,
# kmemleak and the self-checks).
step release-kernel "$S/build-kernel.sh" release
step release-initramfs "$S/build-initramfs.sh" release
release=$BUILD/release/run
step release-vm "$S/run-vm.sh" "$BUILD/release/arch/x86/boot/bzImage" \
	"$BUILD/release/initramfs.cpio.gz" "$release"

echo "=== results, debug kernel (console: $run/console.log, TAP: $run/tap.log)"
rc=0
# Both debug kernels run with shmem huge folios, SysV IPC and hugetlbfs: the
# tests that split huge folios and that find SysV segments and MFD_HUGETLB
# memfds answering ENOTTY must pass there, not skip.
python3 "$S/parse-results.py" "$run/console.log" "$run/tap.log" \
	--require-suite rust_doctests_kernel \
	--require-test region.purges_split_large_folios \
	--require-test global.sysv_shm_is_enotty \
	--require-test global.hugetlb_memfd_is_enotty | tee "$run/verdict.txt" || rc=1
echo "=== results, uniprocessor debug kernel (console: $up/console.log, TAP: $up/tap.log)"
python3 "$S/parse-results.py" "$up/console.log" "$up/tap.log" \
	--require-suite rust_doctests_kernel \
	--require-test region.purges_split_large_folios \
	--require-test global.sysv_shm_is_enotty \
	--require-test global.hugetlb_memfd_is_enotty | tee "$up/verdict.txt" || rc=1
echo "=== results, release kernel (console: $release/console.log, TAP: $release/tap.log)"
python3 "$S/parse-results.py" "$release/console.log" "$release/tap.log" \
	--no-self-check | tee "$release/verdict.txt" || rc=1
echo "total time: $(($(date +%s) - t0)) s"
# The closing line sums the three boots.
tail -n1 "$run/verdict.txt" "$up/verdict.txt" "$release/verdict.txt" | awk '
	/passed, / { p += $1; f += $3 }
	END { printf "%d passed, %d failed\n", p, f }'
exit $rc
