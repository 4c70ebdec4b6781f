#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-initramfs.sh FLAVOUR: build the ashmem selftests 64-bit and 32-bit
# (32-bit only where the kernel has compat; static, against the UAPI headers
# of build/FLAVOUR, cross-built for arm64 flavours) and pack them with
# busybox and initramfs/init into build/FLAVOUR/initramfs.cpio.gz.
# With DEMO=path, that program becomes /demo and runs instead of the suites,
# and the archive is build/FLAVOUR/initramfs-demo.cpio.gz.
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: build-initramfs.sh FLAVOUR}
out=$BUILD/$flavour
root=$out/initramfs
selftests=$SRC/tools/testing/selftests/ashmem

flavour_setup "$flavour"
kmake "$out" -s headers
rm -rf "$root"
mkdir -p "$root/bin" "$root/tests"
cp "$REPO/initramfs/init" "$root/init"
chmod +x "$root/init"

# Per ABI: the compiler and the UAPI headers. 32-bit programs run through
# the kernel's compat layer: i386 on x86_64, armhf on arm64 (whose 32-bit
# headers come from an ARCH=arm header install; arm64's say 64-bit longs).
if [ "$KARCH" = arm64 ]; then
	[ -x "$BUSYBOX_ARM64" ] || die "no arm64 busybox at $BUSYBOX_ARM64: run scripts/setup-host.sh"
	cp "$BUSYBOX_ARM64" "$root/bin/busybox"
	abis="64"
	if grep -q '^CONFIG_COMPAT=y' "$out/.config"; then
		abis="64 32"
		make -C "$SRC" O="$BUILD/arm-headers" ARCH=arm LLVM="$LLVM_SUFFIX" -s headers
	fi
	cross="clang$LLVM_SUFFIX -fuse-ld=lld -static --target"
	cc64="$cross=aarch64-linux-gnu" hdr64=$out/usr/include
	cc32="$cross=arm-linux-gnueabihf" hdr32=$BUILD/arm-headers/usr/include
else
	cp /bin/busybox "$root/bin/busybox"
	abis="64 32"
	cc64="gcc -m64 -static" hdr64=$out/usr/include
	cc32="gcc -m32 -static" hdr32=$out/usr/include
fi

# The long loops of the x86 debug boot; arm64 runs a tenth of each.
debug_lifetimes64=20000 debug_lifetimes32=10000 debug_fuzz_operations=100000
debug_module_cycles=100

: >"$root/tests/list"
for bits in $abis; do
	bin=$out/selftests-$bits
	rm -rf "$bin"
	mkdir -p "$bin"
	cc=cc$bits hdr=hdr$bits
	make -s -C "$selftests" OUTPUT="$bin" CC="${!cc}" \
		KHDR_INCLUDES="-isystem ${!hdr}" >"$bin.log" 2>&1 || {
		cat "$bin.log" >&2
		die "building the $bits-bit selftests failed"
	}
	! grep -B2 -A6 'warning:' "$bin.log" >&2 || die "the $bits-bit selftests build with warnings"
	mkdir -p "$root/tests/$bits"
	for prog in "$bin"/*; do
		[ -f "$prog" ] && [ -x "$prog" ] || continue
		cp "$prog" "$root/tests/$bits/"
		name=$(basename "$prog")
		# module_cycle.sh's helper, which unloads the modules: not a suite.
		[ "$name" != ashmem_import_unload ] || continue
		args=
		# Region lifetimes and fuzzer operations: the programs' 100,000
		# on the fast release kernel; fewer where KASAN and kmemleak
		# watch, and on emulated arm64 a tenth of the x86 debug
		# kernel's, so that make check fits CI's time.
		case $name-$bits-$flavour in
		ashmem_cycles-64-debug) args=" -n $debug_lifetimes64" ;;
		ashmem_cycles-32-debug | ashmem_cycles-*-up) args=" -n $debug_lifetimes32" ;;
		ashmem_cycles-64-arm64*) args=" -n $((debug_lifetimes64 / 10))" ;;
		ashmem_cycles-32-arm64*) args=" -n $((debug_lifetimes32 / 10))" ;;
		ashmem_fuzz-*-debug) args=" -n $debug_fuzz_operations" ;;
		ashmem_fuzz-*-arm64*) args=" -n $((debug_fuzz_operations / 10))" ;;
		esac
		echo "$name-$bits /tests/$bits/$name$args" >>"$root/tests/list"
	done
done
[ -s "$root/tests/list" ] || die "no selftest programs were built"

# Modules the test kernel builds, loaded by /init before the suites, and
# a last suite that unloads and reloads the ashmem module.
mkdir -p "$root/lib/modules"
# KUnit suites in modules, loaded after the drivers: they use /dev/ashmem.
mkdir -p "$root/lib/modules/tests"
if [ -f "$out/mm/ashmem_kunit.ko" ]; then
	cp "$out/mm/ashmem_kunit.ko" "$root/lib/modules/tests/"
fi
# The importing driver loads beside the ashmem sample, built in or not.
if [ -f "$out/samples/rust/rust_ashmem_import.ko" ]; then
	cp "$out/samples/rust/rust_ashmem_import.ko" "$root/lib/modules/"
fi
if [ -f "$out/samples/rust/rust_ashmem.ko" ]; then
	cp "$out/samples/rust/rust_ashmem.ko" "$root/lib/modules/"
	cp "$REPO/initramfs/module_cycle.sh" "$root/tests/"
	# Unload, load and use rounds: a tenth on emulated arm64.
	cycles=$debug_module_cycles
	[ "$KARCH" = arm64 ] && cycles=$((debug_module_cycles / 10))
	echo "module_cycle /tests/module_cycle.sh $cycles" >>"$root/tests/list"
fi

# kmemleak's test module, which leaks on purpose: the harness self-check
# plants its leak to prove that kmemleak reports and the parser sees it.
if [ -f "$out/samples/kmemleak/kmemleak-test.ko" ]; then
	mkdir -p "$root/lib/selfcheck"
	cp "$out/samples/kmemleak/kmemleak-test.ko" "$root/lib/selfcheck/"
fi

if [ -n "${DEMO:-}" ]; then
	cp "$DEMO" "$root/demo"
	chmod +x "$root/demo"
fi

archive=$out/initramfs${DEMO:+-demo}.cpio.gz
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$archive"
note "$(basename "$archive"): $(wc -l <"$root/tests/list") test programs, $(du -h "$archive" | cut -f1)"
