#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-initramfs.sh FLAVOUR: build the ashmem selftests 64-bit and 32-bit
# (static, against the UAPI headers of build/FLAVOUR) and pack them with
# busybox and initramfs/init into build/FLAVOUR/initramfs.cpio.gz.
# With DEMO=path, that program becomes /demo and runs instead of the suites,
# and the archive is build/FLAVOUR/initramfs-demo.cpio.gz.
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: build-initramfs.sh FLAVOUR}
out=$BUILD/$flavour
root=$out/initramfs
selftests=$SRC/tools/testing/selftests/ashmem

kmake "$out" -s headers
rm -rf "$root"
mkdir -p "$root/bin" "$root/tests"
cp /bin/busybox "$root/bin/busybox"
cp "$REPO/initramfs/init" "$root/init"
chmod +x "$root/init"

: >"$root/tests/list"
for bits in 64 32; do
	bin=$out/selftests-$bits
	rm -rf "$bin"
	mkdir -p "$bin"
	make -s -C "$selftests" OUTPUT="$bin" CC="gcc -m$bits -static" \
		KHDR_INCLUDES="-isystem $out/usr/include" >"$bin.log" 2>&1 || {
		cat "$bin.log" >&2
		die "building the $bits-bit selftests failed"
	}
	! grep -B2 -A6 'warning:' "$bin.log" >&2 || die "the $bits-bit selftests build with warnings"
	mkdir -p "$root/tests/$bits"
	for prog in "$bin"/*; do
		[ -f "$prog" ] && [ -x "$prog" ] || continue
		cp "$prog" "$root/tests/$bits/"
		name=$(basename "$prog")
		args=
		# 100,000 region lifetimes on the fast release kernel; 50,000
		# (64-bit) and 10,000 (32-bit) where KASAN and kmemleak watch, and
		# 10,000 each way on the uniprocessor kernel, so that make check
		# stays well inside CI's time.
		case $name-$bits-$flavour in
		ashmem_cycles-64-debug) args=" -n 50000" ;;
		ashmem_cycles-32-debug | ashmem_cycles-*-up) args=" -n 10000" ;;
		esac
		echo "$name-$bits /tests/$bits/$name$args" >>"$root/tests/list"
	done
done
[ -s "$root/tests/list" ] || die "no selftest programs were built"

# Modules the test kernel builds, loaded by /init before the suites, and
# a last suite that unloads and reloads the ashmem module.
mkdir -p "$root/lib/modules"
if [ -f "$out/samples/rust/rust_ashmem.ko" ]; then
	cp "$out/samples/rust/rust_ashmem.ko" "$root/lib/modules/"
	cp "$REPO/initramfs/module_cycle.sh" "$root/tests/"
	echo "module_cycle /tests/module_cycle.sh" >>"$root/tests/list"
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
