#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install everything the build and the tests need, idempotently. Checks
# versions, not just presence, and stops with a reason when something no
# longer fits.
. "$(dirname "$0")/common.sh"

PACKAGES=(
	"$BASE_PACKAGE"
	rustc-web rust-web-src rust-web-clippy rustfmt-web
	clang-22 lld-22 llvm-22 libclang-22-dev
	make flex bison bc libelf-dev libssl-dev cpio xz-utils perl python3
	python3-ply python3-git python3-sphinx graphviz
	qemu-system-x86 busybox-static gcc gcc-multilib libc6-dev-i386 kmod
	# arm64: QEMU, GNU ld for the 16K kernel, and the libcs and libgccs
	# clang cross-builds the aarch64 and armhf (compat) selftests with (the
	# cross gccs conflict with gcc-multilib)
	qemu-system-arm binutils-aarch64-linux-gnu
	libc6-dev-arm64-cross libgcc-12-dev-arm64-cross
	libc6-dev-armhf-cross libgcc-12-dev-armhf-cross
)

missing=()
for p in "${PACKAGES[@]}"; do
	st=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them"
	note "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null ||
		die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# rustc must be built on the same LLVM major as clang (KASAN, LTO-free
# cross-language inlining): rustc-web 1.96 is on LLVM 22.
rust_llvm=$("$RUSTC" -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
[ "$rust_llvm" = "${LLVM_SUFFIX#-}" ] ||
	die "$RUSTC is built on LLVM $rust_llvm, clang is ${LLVM_SUFFIX#-}: update PACKAGES/LLVM_SUFFIX together"
[ -d "$RUST_LIB_SRC/core" ] || die "no Rust core sources at $RUST_LIB_SRC (rust-web-src)"
# clippy, rustfmt and the core sources must come from the same Rust build.
rust_pkgs=$(dpkg-query -W -f '${Version}\n' rustc-web rust-web-src rust-web-clippy rustfmt-web | sort -u)
[ "$(echo "$rust_pkgs" | wc -l)" = 1 ] ||
	die "rustc-web, rust-web-src, rust-web-clippy and rustfmt-web differ in version: $(echo $rust_pkgs)"

# bindgen: Debian's is too old for libclang 22; cargo builds the pinned one.
have=$("$BINDGEN" --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$BINDGEN_VERSION" ]; then
	note "installing bindgen-cli $BINDGEN_VERSION with cargo (about 4 minutes)"
	cargo=$(command -v cargo || echo "${HOME:-/root}/.cargo/bin/cargo")
	[ -x "$cargo" ] || die "cargo not found (PATH or ~/.cargo/bin): needed to build bindgen-cli"
	"$cargo" install -q bindgen-cli --version "$BINDGEN_VERSION" --locked \
		--root "$TOOLS_ROOT/bindgen-$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli $BINDGEN_VERSION failed"
fi

# Debian's arm64 busybox for the arm64 initramfs. It cannot be installed
# beside the amd64 one: apt downloads it with a private state of its own (the
# system's sources and keys, arm64 indexes) and dpkg-deb unpacks it.
if [ ! -x "$BUSYBOX_ARM64" ]; then
	note "fetching Debian's arm64 busybox-static"
	d=$TOOLS_ROOT/busybox-arm64
	rm -rf "$d"
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	apt_arm64=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache"
		-o Dir::State::status=/dev/null -o Acquire::Languages=none)
	[ "$(id -u)" = 0 ] && apt_arm64+=(-o APT::Sandbox::User=root)
	apt-get -q "${apt_arm64[@]}" update >/dev/null ||
		die "apt-get update for arm64 failed"
	(cd "$d" && apt-get -q "${apt_arm64[@]}" download busybox-static >/dev/null) ||
		die "apt-get download busybox-static (arm64) failed"
	dpkg-deb -x "$d"/busybox-static_*_arm64.deb "$d/root"
	aarch64-linux-gnu-readelf -h "$BUSYBOX_ARM64" | grep -q AArch64 ||
		die "$BUSYBOX_ARM64 is not an arm64 program"
fi

base=$(dpkg-query -W -f '${Version}' "$BASE_PACKAGE")
want=$(cat "$BASE_VERSION_FILE")
if [ "${base%%-*}" != "$want" ]; then
	echo "warning: $BASE_PACKAGE is $base; the series was made on $want." >&2
	echo "warning: it is applied with 'git am -3'; a conflict is reported as such." >&2
fi
note "toolchain: $("$RUSTC" --version | cut -d' ' -f1-2), clang $(clang$LLVM_SUFFIX -dumpversion)," \
	"bindgen $BINDGEN_VERSION, base $BASE_PACKAGE $base"
