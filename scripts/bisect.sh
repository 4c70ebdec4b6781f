#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bisect.sh: build every prefix of the series (patch 1, patches 1-2, ...)
# with the debug config, clippy and warnings as errors, in a work tree and a
# build folder of their own (build/bisect-src, build/bisect), so the main
# tree's incremental build is left alone. Options a prefix does not define
# yet are not required of it. BISECT_FROM=N starts at the Nth prefix (after a
# fix to patch N, the ones before it are unchanged).
. "$(dirname "$0")/common.sh"

wt=$BUILD/bisect-src
commits=$(sgit rev-list --reverse base..series)
[ -n "$commits" ] || die "the series is empty"
if [ ! -d "$wt" ]; then
	sgit worktree prune
	sgit worktree add -q --detach "$wt" base
fi

n=0 total=$(echo "$commits" | wc -l)
for c in $commits; do
	n=$((n + 1))
	[ "$n" -ge "${BISECT_FROM:-1}" ] || continue
	"$GIT" -C "$wt" checkout -q --detach "$c"
	echo "=== [$n/$total] $("$GIT" -C "$wt" log -1 --format=%s)"
	CONFIG_FRAGMENT=debug CONFIG_CHECK=defined-only "$REPO/scripts/build-kernel.sh" bisect "$wt" ||
		die "patch $n of $total does not build on its own"
done
note "prefixes ${BISECT_FROM:-1} to $total of the series build"
