#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-kernel.sh FLAVOUR [SRC_DIR]: configure and build build/FLAVOUR from
# configs/FLAVOUR.config over Kconfig defaults, and check that every option
# asked for survived olddefconfig. Incremental: reruns rebuild what changed.
# Rust is built with warnings as errors, and with clippy on the x86 debug
# and arm64 16K kernels, so lints gate the build.
# CONFIG_FRAGMENT names another fragment; CONFIG_CHECK=defined-only skips
# options this tree does not define (for building prefixes of the series).
# A fragment with a '# start: tinyconfig' line starts from make tinyconfig
# rather than from Kconfig's defaults.
. "$(dirname "$0")/common.sh"

flavour=${1:?usage: build-kernel.sh FLAVOUR [SRC_DIR]}
[ -n "${2:-}" ] && SRC=$2
fragment=$REPO/configs/${CONFIG_FRAGMENT:-$flavour}.config
out=$BUILD/$flavour
flavour_setup "$flavour"
[ -f "$fragment" ] || die "no $fragment"
mkdir -p "$out"

# expand FRAGMENT: the fragment with its '# base: OTHER.config' line replaced
# by OTHER's lines, less those of the symbols FRAGMENT sets itself.
expand() {
	local base own
	base=$(sed -n 's/^# base: *//p' "$1")
	[ -n "$base" ] || {
		cat "$1"
		return
	}
	[ -f "$REPO/configs/$base" ] || die "$(basename "$1"): no configs/$base"
	own=$(sed -n 's/^\(# \)\?\(CONFIG_[A-Za-z0-9_]*\)[= ].*/\2/p' "$1")
	expand "$REPO/configs/$base" | grep -v -w -F -e "${own:-CONFIG_NONE_}" || true
	grep -v '^# base:' "$1"
}
expanded=$out/fragment.config
expand "$fragment" >"$expanded.new"
mv "$expanded.new" "$expanded"
fragment=$expanded

# check_config FRAGMENT CONFIG: every line of the fragment holds in CONFIG.
check_config() {
	local bad=0 line sym
	while read -r line; do
		sym=${line#\# }
		sym=${sym%%[= ]*}
		if [ "${CONFIG_CHECK:-}" = defined-only ] && ! grep -qE "^(# )?$sym[= ]" "$2"; then
			continue
		fi
		case $line in
		"# CONFIG_"*" is not set")
			if grep -q "^$sym=" "$2"; then
				echo "  asked '$line', got '$(grep "^$sym=" "$2")'" >&2
				bad=1
			fi
			;;
		CONFIG_*)
			if ! grep -qx -- "$line" "$2"; then
				echo "  asked '$line', got '$(grep -E "^(# )?$sym[= ]" "$2" || echo "nothing (missing dependency?)")'" >&2
				bad=1
			fi
			;;
		esac
	done <"$1"
	return $bad
}

# Reconfigure only when the fragment or the tree's commit changed: a new
# .config makes kbuild rebuild every Rust crate.
key=$(cat "$fragment"; echo "${KMAKE_ARCH[*]}"; "$GIT" -C "$SRC" rev-parse HEAD)
if [ "$key" != "$(cat "$out/config.key" 2>/dev/null)" ] || [ ! -f "$out/.config" ]; then
	if grep -q '^# start: tinyconfig' "$fragment"; then
		kmake "$out" -s tinyconfig
		cat "$fragment" >>"$out/.config"
	else
		cp "$fragment" "$out/.config"
	fi
	kmake "$out" -s olddefconfig
	echo "$key" >"$out/config.key"
fi
check_config "$fragment" "$out/.config" ||
	die "$(basename "$fragment"): options above did not survive olddefconfig"

note "building $flavour kernel in build/$flavour"
start=$(date +%s)
log=$out/build.log
# Clippy on the x86 debug kernel (and the bisect prefixes) and on the arm64
# 16K kernel (arm64's types, the unusual page size). The uniprocessor,
# release and arm64 4K kernels, the same code with other options, build
# without it to save CI time (Rust warnings still fail).
clippy=CLIPPY=1
case $flavour in up | release* | arm64-4k | anchor) clippy=CLIPPY= ;; esac
if ! kmake "$out" "$clippy" KRUSTFLAGS=-Dwarnings "$IMAGE_TARGET" modules >"$log" 2>&1; then
	grep -E -B2 -A12 'error(\[|:)|Error [0-9]' "$log" | head -80 >&2
	die "$flavour kernel build failed (log: $log)"
fi
# New C warnings in the files we touch fail the build too.
if grep -E 'warning:' "$log" | grep -E 'ashmem|rust/' >&2; then
	die "$flavour kernel build has warnings (log: $log)"
fi
note "built build/$flavour/$IMAGE in $(($(date +%s) - start)) s"
