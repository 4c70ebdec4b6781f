#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fixup.sh 'SUBJECT PREFIX' [PATH...]: fold the uncommitted changes to PATHs
# (all tracked changes if none are given) into the patch of build/src whose
# subject starts with SUBJECT PREFIX, and rebase the series onto it.
. "$(dirname "$0")/common.sh"

subject=${1:?usage: fixup.sh 'SUBJECT PREFIX' [PATH...]}
shift
commit=$(sgit log --format='%H %s' base..series | awk -v s="$subject" 'index(substr($0, 42), s) == 1 { print $1 }')
[ "$(echo "$commit" | wc -w)" = 1 ] || die "'$subject' matches $(echo "$commit" | wc -w) patches"
note "folding into: $(sgit log -1 --format=%s "$commit")"
if [ $# -gt 0 ]; then
	sgit commit -q --fixup="$commit" -- "$@"
else
	sgit commit -q -a --fixup="$commit"
fi
GIT_SEQUENCE_EDITOR=: sgit rebase -q -i --autosquash --autostash base
