#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--no-gates]: the whole test suite. Set-up, the series gates, then
# four kernels (two with ARM64=0, one more with UP=1), each booted once to run
# KUnit (where it is built in) and the userspace suites:
#   debug            x86_64, the instruments, built with clippy; then rustdoc
#                    and Sphinx
#   up               with UP=1: x86_64 uniprocessor debug, the sample built
#                    in
#   arm64-4k         arm64 debug with 4K pages and COMPAT (armhf suites too)
#   arm64-16k        arm64 debug with 16K pages, built with clippy, the sample
#                    built in (so its shrinker is registered before the
#                    doctests), 64-bit suites
#   release          x86_64, no instruments, the sample built in and KUnit a
#                    module (as GKI builds it)
# The series gates run while the first kernel builds, and each boot in the
# background while the next kernel builds (a boot under TCG keeps one to one
# and a half of the two cores busy). Ends with 'N passed, N failed' over the
# boots.
# PROVOKE=WARNING makes the debug guests trigger a kernel warning mid-run,
# which must fail the run: the harness proving it is not blind.
. "$(dirname "$0")/common.sh"

gates=1
[ "${1:-}" = --no-gates ] && gates=0
# ARM64=0 leaves out the two arm64 kernels (x86_64 only). UP=1 adds the
# uniprocessor kernel, which CI leaves out to keep within its time.
arm64=${ARM64:-1}
up=${UP:-0}
case $arm64$up in 00 | 01 | 10 | 11) ;; *) die "ARM64=$arm64 UP=$up: say 0 or 1" ;; esac
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

# boot FLAVOUR [ARGS...]: build FLAVOUR's initramfs and boot it in the
# background; wait_boot prints its output once it is done.
boot_pid=
boot() {
	local flavour=$1 image
	shift
	wait_boot
	step "$flavour-initramfs" "$S/build-initramfs.sh" "$flavour"
	flavour_setup "$flavour"
	image=$BUILD/$flavour/$IMAGE
	boot_log=$BUILD/$flavour/run.log
	echo "=== $flavour-vm (in the background: $boot_log)"
	step "$flavour-vm" "$S/run-vm.sh" "$image" "$BUILD/$flavour/initramfs.cpio.gz" \
		"$BUILD/$flavour/run" "$@" >"$boot_log" 2>&1 &
	boot_pid=$!
}
wait_boot() {
	[ -n "$boot_pid" ] || return 0
	local rc=0
	wait "$boot_pid" || rc=$?
	boot_pid=
	cat "$boot_log"
	[ $rc = 0 ] || die "the boot in the background failed (exit $rc)"
}

args=
[ -n "${PROVOKE:-}" ] && args="harness.provoke=$PROVOKE"

# The patch gates run on one core while the first kernel builds.
series_gates() {
	step series "$S/series.sh" verify
	step checkpatch "$S/gates.sh" checkpatch
	step maintainers "$S/gates.sh" maintainers
}

step setup "$S/setup-host.sh"
step tree "$S/series.sh" tree
gates_log=$BUILD/series-gates.log
gates_pid=
if [ $gates = 1 ]; then
	series_gates >"$gates_log" 2>&1 &
	gates_pid=$!
fi
step kernel "$S/build-kernel.sh" debug
if [ $gates = 1 ]; then
	rc=0
	wait "$gates_pid" || rc=$?
	cat "$gates_log"
	[ $rc = 0 ] || die "the series gates failed"
fi
boot debug $args
if [ $gates = 1 ]; then
	step rustfmt "$S/gates.sh" rustfmt
	step rustdoc "$S/gates.sh" rustdoc debug
	step htmldocs "$S/gates.sh" htmldocs debug
fi
if [ "$up" = 1 ]; then
	step up-kernel "$S/build-kernel.sh" up
	VM_CPUS=1 boot up $args
fi
if [ "$arm64" = 1 ]; then
	step arm64-4k-kernel "$S/build-kernel.sh" arm64-4k
	boot arm64-4k $args
	step arm64-16k-kernel "$S/build-kernel.sh" arm64-16k
	boot arm64-16k $args
fi
step release-kernel "$S/build-kernel.sh" release
boot release
wait_boot

# parse FLAVOUR TITLE [FLAGS...]: the verdict of FLAVOUR's boot.
rc=0
parse() {
	local run=$BUILD/$1/run
	echo "=== results, $2 (console: $run/console.log, TAP: $run/tap.log)"
	shift 2
	python3 "$S/parse-results.py" "$run/console.log" "$run/tap.log" "$@" |
		tee "$run/verdict.txt" || rc=1
}
# The debug kernels run with shmem huge folios, SysV IPC and hugetlbfs: the
# tests that split huge folios and that find SysV segments and MFD_HUGETLB
# memfds answering ENOTTY must pass there, not skip.
debug_flags=(--require-suite rust_doctests_kernel --require-suite ashmem_c_interface
	--require-test region.purges_split_large_folios
	--require-test global.sysv_shm_is_enotty
	--require-test global.hugetlb_memfd_is_enotty)
parse debug "x86_64 debug kernel" "${debug_flags[@]}"
flavours="debug"
if [ "$up" = 1 ]; then
	parse up "x86_64 uniprocessor debug kernel" "${debug_flags[@]}"
	flavours="$flavours up"
fi
if [ "$arm64" = 1 ]; then
	parse arm64-4k "arm64 debug kernel, 4K pages" "${debug_flags[@]}"
	parse arm64-16k "arm64 debug kernel, 16K pages" "${debug_flags[@]}"
	flavours="$flavours arm64-4k arm64-16k"
fi
parse release "x86_64 release kernel" --no-self-check
echo "total time: $(($(date +%s) - t0)) s"
# The closing line sums the boots.
for f in $flavours release; do
	tail -n1 "$BUILD/$f/run/verdict.txt"
done | awk '
	/passed, / { p += $1; f += $3 }
	END { printf "%d passed, %d failed\n", p, f }'
exit $rc
