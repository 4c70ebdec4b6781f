#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-vm.sh IMAGE INITRAMFS OUTDIR [KERNEL ARGS...]: boot under QEMU (TCG)
# with a time limit, x86_64 or arm64 by the image's path. The console goes to
# OUTDIR/console.log, the userspace TAP (second serial port on x86, virtio
# console on arm64) to OUTDIR/tap.log.
. "$(dirname "$0")/common.sh"

kernel=$1 initrd=$2 out=$3
shift 3
mkdir -p "$out"
rm -f "$out/console.log" "$out/tap.log"

VM_TIMEOUT=${VM_TIMEOUT:-2400}
VM_MEMORY=${VM_MEMORY:-2G}
VM_CPUS=${VM_CPUS:-2}
# No 5-level paging on x86: while 6.12's identify_cpu() has the boot CPU's
# feature bits cleared (arch/x86/kernel/cpu/common.c:1899), an interrupt sees
# pgtable_l5_enabled() false and KASAN calls the direct map a wild access.
# make bench, with no KASAN, keeps -cpu max.
VM_X86_CPU=${VM_X86_CPU:-max,la57=off}

start=$(date +%s)
rc=0
case $kernel in
*/arch/arm64/*)
	# QEMU 7.2's virt machine has one non-secure UART: the console. The
	# TAP goes to a virtio console, hvc0 in the guest. -cpu max supports
	# the 16K granule and AArch32 EL0; its cheap pointer authentication
	# keeps TCG fast.
	timeout --foreground -k 10 "$VM_TIMEOUT" \
		qemu-system-aarch64 -machine virt,gic-version=3 -cpu max,pauth-impdef=on \
		-m "$VM_MEMORY" -smp "$VM_CPUS" \
		-display none -monitor none -no-reboot \
		-serial "file:$out/console.log" \
		-device virtio-serial-device \
		-chardev "file,id=tap,path=$out/tap.log" -device virtconsole,chardev=tap \
		${VM_QEMU_ARGS:-} \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyAMA0 panic=-1 loglevel=7 printk.time=1 harness.tap=/dev/hvc0 $*" \
		</dev/null || rc=$?
	;;
*)
	timeout --foreground -k 10 "$VM_TIMEOUT" \
		qemu-system-x86_64 -machine pc -cpu "$VM_X86_CPU" -m "$VM_MEMORY" -smp "$VM_CPUS" \
		-bios /usr/share/qemu/qboot.rom \
		-display none -monitor none -no-reboot \
		-serial "file:$out/console.log" -serial "file:$out/tap.log" \
		${VM_QEMU_ARGS:-} \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=7 printk.time=1 $*" </dev/null || rc=$?
	;;
esac
[ $rc = 124 ] && echo "VM timed out after $VM_TIMEOUT s" >>"$out/console.log"
note "VM ran $(($(date +%s) - start)) s (qemu exit $rc)"
exit 0
