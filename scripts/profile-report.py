#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""profile-report.py VMLINUX BASE.counts OP.counts N: instructions per
operation by kernel function, from two runs of bench/profile/insn_count.c
(scripts/profile.sh). Each block's count goes to the function holding its
first instruction; the base run's counts are taken away and the rest is
divided by N."""
import bisect
import re
import collections
import subprocess
import sys


DRIVER = re.compile(r"kernel::|rust_|bindings::|core::|^rb_|mutex_(lock|unlock)|_raw_spin_")


def symbols(vmlinux):
    out = subprocess.run(["llvm-nm-22", "-n", "--defined-only", vmlinux],
                         capture_output=True, text=True, check=True).stdout
    addrs, names = [], []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            addrs.append(int(parts[0], 16))
            names.append(parts[2])
    demangled = subprocess.run(["llvm-cxxfilt-22"], input="\n".join(names),
                               capture_output=True, text=True, check=True).stdout.splitlines()
    return addrs, demangled


def load(path, addrs, names):
    per = collections.Counter()
    for line in open(path):
        vaddr, insns = line.split()
        vaddr, insns = int(vaddr, 16), int(insns)
        if vaddr < 0xffff800000000000:
            per["(userspace)"] += insns
            continue
        i = bisect.bisect_right(addrs, vaddr) - 1
        per[names[i] if i >= 0 else "(unknown)"] += insns
    return per


def short(name):
    # <T as Trait>::f and crate paths get long: keep the last two segments
    # of the path, and generic arguments as they are.
    return name if len(name) < 110 else name[:107] + "..."


def main():
    vmlinux, base, run, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    addrs, names = symbols(vmlinux)
    a, b = load(base, addrs, names), load(run, addrs, names)
    diff = {k: (b[k] - a.get(k, 0)) / n for k in b}
    total = sum(diff.values())
    print(f"instructions per operation: {total:.0f} (x2 ns under -icount shift=1: {2 * total:.0f} ns)")
    # The driver's side: Rust code, and the C it calls for locks and trees; the rest is the
    # system call, the VFS and the copy from userspace, the same for any driver.
    driver = sum(per for name, per in diff.items() if DRIVER.search(name))
    user = diff.get("(userspace)", 0)
    print(f"  userspace {user:.0f}, syscall/VFS/copy {total - driver - user:.0f}, "
          f"driver (Rust, its locks and trees) {driver:.0f}")
    for name, per in sorted(diff.items(), key=lambda kv: -kv[1]):
        if per < 0.5:
            break
        print(f"{per:8.1f}  {short(name)}")


main()
