#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# gates.sh checkpatch|maintainers|rustfmt|rustdoc|htmldocs: the review gates. (clippy runs with
# the debug and arm64 16K kernel builds: see build-kernel.sh.)
. "$(dirname "$0")/common.sh"

# checkpatch --strict on every patch: no error, no warning, no check.
# Debian's python3 first: spdxcheck.py needs its python3-ply and python3-git.
gate_checkpatch() {
	local p out summary bad=0
	for p in "$PATCHES"/[0-9][0-9][0-9][0-9]-*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		out=$(cd "$SRC" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict --no-color --showfile "$p" 2>&1) || true
		summary=$(echo "$out" | grep -E '^total: ' || echo "no summary")
		echo "  $(basename "$p"): $summary"
		if ! echo "$summary" | grep -q '^total: 0 errors, 0 warnings, 0 checks,'; then
			echo "$out" | grep -v -E '^(total:|$)' | sed 's/^/    /'
			bad=1
		fi
	done
	[ $bad = 0 ] || die "checkpatch --strict is not clean"
}

# get_maintainer.pl names RUST [ASHMEM] on every patch. The author's address
# (From:, Signed-off-by:) holds "ashmem" too, so it is left out of the input:
# the entry must be found through its F: files or its K: keyword.
gate_maintainers() {
	local p how bad=0
	for p in "$PATCHES"/[0-9][0-9][0-9][0-9]-*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		how=$(grep -v -E '^(From|Signed-off-by):' "$p" |
			(cd "$SRC" && perl scripts/get_maintainer.pl --no-git --no-git-fallback 2>/dev/null) |
			grep -c 'maintainer:RUST \[ASHMEM\]' || true)
		if [ "$how" -ge 1 ]; then
			echo "  $(basename "$p"): RUST [ASHMEM] named"
		else
			echo "  $(basename "$p"): RUST [ASHMEM] NOT named"
			bad=1
		fi
	done
	[ $bad = 0 ] || die "get_maintainer.pl does not name RUST [ASHMEM] on every patch"
}

gate_rustfmt() {
	kmake "$BUILD/debug" -s rustfmtcheck || die "rustfmtcheck: run 'make -C build/src rustfmt' and amend"
	echo "  rustfmtcheck: clean"
}

gate_rustdoc() {
	local out=$BUILD/${1:-debug} log
	log=$out/rustdoc.log
	kmake "$out" rustdoc >"$log" 2>&1 || {
		tail -40 "$log" >&2
		die "make rustdoc failed (log: $log)"
	}
	if grep -E '^(warning|error)' "$log" >&2; then
		die "make rustdoc has warnings (log: $log)"
	fi
	echo "  rustdoc: clean ($(find "$out/Documentation/output/rust/rustdoc/kernel" -name '*.html' | wc -l) pages for the kernel crate)"
}

# Sphinx on Documentation/rust/, warnings as failures. quick-start.rst
# refers to a label outside that folder, which only a full build resolves:
# the one warning that is not ours.
gate_htmldocs() {
	local out=$BUILD/${1:-debug} log
	log=$out/htmldocs.log
	kmake "$out" SPHINXDIRS=rust htmldocs >"$log" 2>&1 || {
		tail -40 "$log" >&2
		die "make htmldocs failed (log: $log)"
	}
	if grep -E 'WARNING|ERROR' "$log" |
		grep -v "quick-start.rst:[0-9]*: WARNING: undefined label: 'getting_llvm'" >&2; then
		die "Sphinx warns on Documentation/rust (log: $log)"
	fi
	[ -s "$out/Documentation/output/rust/ashmem.html" ] || die "no ashmem.html was built"
	echo "  htmldocs: clean (Documentation/output/rust/ashmem.html)"
}

case ${1:-} in
checkpatch) gate_checkpatch ;;
maintainers) gate_maintainers ;;
rustfmt) gate_rustfmt ;;
rustdoc) gate_rustdoc "${2:-}" ;;
htmldocs) gate_htmldocs "${2:-}" ;;
*) die "usage: $0 checkpatch|maintainers|rustfmt|rustdoc|htmldocs [FLAVOUR]" ;;
esac
