# SPDX-License-Identifier: GPL-2.0
# Settings shared by every script: paths, tool versions, the kernel make line.
# Sourced, never run.

set -euo pipefail
shopt -s nullglob

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$REPO/build
SRC=$BUILD/src                  # base tree + our series, a git repository
PATCHES=$REPO/patches           # the series: the source of truth
MIRROR=$REPO/linux              # files the series adds, as at its top

# Debian's packaged kernel source: the base we apply to.
BASE_PACKAGE=linux-source-6.12
BASE_TARBALL=/usr/src/linux-source-6.12.tar.xz
BASE_VERSION_FILE=$REPO/series/base-version

# Toolchain (see shared/toolchain.md). Absolute paths: rustup's rustc
# (first on PATH) has no rust-src and a different version.
RUSTC=/usr/bin/rustc
RUSTDOC=/usr/bin/rustdoc
RUSTFMT=/usr/bin/rustfmt
CLIPPY_DRIVER=/usr/bin/clippy-driver
RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
LLVM_SUFFIX=-22
LIBCLANG_PATH=/usr/lib/llvm-22/lib
BINDGEN_VERSION=0.72.1
TOOLS_ROOT=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/rust-ashmem
BINDGEN=$TOOLS_ROOT/bindgen-$BINDGEN_VERSION/bin/bindgen
export LIBCLANG_PATH

# One git, configured only here, so generated patches are byte-identical
# whatever the user's ~/.gitconfig says.
GIT=/usr/bin/git
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
TEAM_NAME="Rust Ashmem Developers"
TEAM_EMAIL="rust-ashmem@example.org"

JOBS=${JOBS:-$(nproc)}

# flavour_setup FLAVOUR: the architecture of a build flavour (x86_64, unless
# its name starts with arm64) and what follows from it: KMAKE_ARCH (extra make
# arguments), IMAGE_TARGET, IMAGE (the boot image under the build folder).
# The 16K arm64 kernel links with GNU ld, as ld.lld-22 does not converge on
# its layout (shared/toolchain.md), and so takes GNU objcopy too:
# llvm-objcopy-22 rejects that vmlinux's .rela.dyn.
# The flavour decides the architecture, not the caller's environment; and
# each script's make is a top-level make (make demo ARCH=arm64 would pass
# ARCH down in MAKEFLAGS).
unset ARCH SRCARCH CROSS_COMPILE MAKEFLAGS MFLAGS MAKELEVEL
KMAKE_ARCH=()
KARCH=x86_64
IMAGE_TARGET=bzImage
IMAGE=arch/x86/boot/bzImage
flavour_setup() {
	case $1 in
	arm64-16k*) KMAKE_ARCH=(ARCH=arm64 LD=aarch64-linux-gnu-ld OBJCOPY=aarch64-linux-gnu-objcopy) ;;
	arm64*) KMAKE_ARCH=(ARCH=arm64) ;;
	*) KMAKE_ARCH=() ;;
	esac
	case $1 in
	arm64*) KARCH=arm64 IMAGE_TARGET=Image IMAGE=arch/arm64/boot/Image ;;
	*) KARCH=x86_64 IMAGE_TARGET=bzImage IMAGE=arch/x86/boot/bzImage ;;
	esac
}

# Where setup-host.sh puts Debian's arm64 busybox (it cannot be installed
# beside the amd64 one).
BUSYBOX_ARM64=$TOOLS_ROOT/busybox-arm64/root/bin/busybox

die() {
	echo "error: $*" >&2
	exit 1
}

note() {
	echo ">>> $*"
}

# kmake BUILD_DIR [make arguments...]: make in the kernel tree, out of tree.
kmake() {
	local out=$1
	shift
	make -C "$SRC" O="$out" -j"$JOBS" \
		LLVM="$LLVM_SUFFIX" \
		RUSTC="$RUSTC" RUSTDOC="$RUSTDOC" RUSTFMT="$RUSTFMT" \
		HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" \
		RUST_LIB_SRC="$RUST_LIB_SRC" \
		CLIPPY_DRIVER="$CLIPPY_DRIVER" \
		"${KMAKE_ARCH[@]}" "$@"
}

# git in the kernel tree with a fixed identity.
sgit() {
	"$GIT" -C "$SRC" -c user.name="$TEAM_NAME" -c user.email="$TEAM_EMAIL" \
		-c core.abbrev=12 "$@"
}
