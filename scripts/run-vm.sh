#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-vm.sh BZIMAGE INITRAMFS OUTDIR [KERNEL ARGS...]: boot under QEMU (TCG)
# with a time limit. The console goes to OUTDIR/console.log, the userspace
# TAP (second serial port) to OUTDIR/tap.log.
. "$(dirname "$0")/common.sh"

kernel=$1 initrd=$2 out=$3
shift 3
mkdir -p "$out"
rm -f "$out/console.log" "$out/tap.log"

VM_TIMEOUT=${VM_TIMEOUT:-2400}
VM_MEMORY=${VM_MEMORY:-2G}
VM_CPUS=${VM_CPUS:-2}

start=$(date +%s)
rc=0
timeout --foreground -k 10 "$VM_TIMEOUT" \
	qemu-system-x86_64 -machine pc -cpu max -m "$VM_MEMORY" -smp "$VM_CPUS" \
	-bios /usr/share/qemu/qboot.rom \
	-display none -monitor none -no-reboot \
	-serial "file:$out/console.log" -serial "file:$out/tap.log" \
	${VM_QEMU_ARGS:-} \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=7 $*" </dev/null || rc=$?
[ $rc = 124 ] && echo "VM timed out after $VM_TIMEOUT s" >>"$out/console.log"
note "VM ran $(($(date +%s) - start)) s (qemu exit $rc)"
exit 0
