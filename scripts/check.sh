#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--no-gates]: the whole test suite. Set-up, the series gates, the
# debug kernel (built with clippy), rustdoc, then one boot that runs KUnit
# and the userspace suites. Ends with 'N passed, N failed'.
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

echo "=== results (console: $run/console.log, TAP: $run/tap.log)"
echo "total time: $(($(date +%s) - t0)) s"
exec python3 "$S/parse-results.py" "$run/console.log" "$run/tap.log" \
	--require-suite rust_doctests_kernel
