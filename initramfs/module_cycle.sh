#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The ashmem module and its open files: an open file keeps the module
# loaded (the file operations name it as owner); once closed, it unloads,
# and loads again. TAP on stdout.

ko=/lib/modules/rust_ashmem.ko
echo "TAP version 13"
echo "1..5"

check() {
	if [ "$1" = 0 ]; then echo "ok $2 $3"; else echo "not ok $2 $3"; fi
}

[ -c /dev/ashmem ]
check $? 1 "the device node exists while the module is loaded"

exec 9<>/dev/ashmem
rmmod rust_ashmem 2>/dev/null
check $((! $?)) 2 "rmmod is refused while a file is open"
exec 9>&-

rmmod rust_ashmem
check $? 3 "rmmod succeeds once the file is closed"

[ ! -e /dev/ashmem ]
check $? 4 "the device node is gone"

insmod $ko && [ -c /dev/ashmem ]
check $? 5 "the module loads again"
