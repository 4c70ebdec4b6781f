#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one test boot: KUnit's KTAP on the console, the userspace TAP on
the TAP channel (second serial port, or virtio console on arm64), and any
kernel report on the console.

Exit status 0 only if every test passed, the required KUnit suites ran, the
userspace run finished, no kernel report appeared before the harness's own
self-checks, and both were caught: kmemleak's planted leak and a WARNING.
Ends with the line 'N passed, N failed'.
"""

import argparse
import re
import sys
from collections import OrderedDict

TIMESTAMP = re.compile(r'^\[\s*\d+\.\d+\]\s?')
RESULT = re.compile(r'^(\s*)(ok|not ok) (\d+) (\S+)(.*)$')
SUBTEST = re.compile(r'^(\s*)# Subtest: (\S+)')
PLAN = re.compile(r'^(\s*)1\.\.(\d+)')

# Kernel messages that mean something went wrong, whatever the tests say.
REPORTS = [
    r'WARNING:', r'BUG:', r'Oops', r'general protection fault',
    r'KASAN:', r'UBSAN:', r'Call [Tt]race:', r'Kernel panic',
    r'cut here', r'DEBUG_LOCKS_WARN_ON', r'possible circular locking',
    r'INFO: task .* blocked for more than', r'soft lockup', r'hard LOCKUP',
    r'rcu: INFO:', r'detected stalls? on CPU', r'list_(add|del) corruption',
    r'unreferenced object', r'suspected memory leak', r'panicked at',
    r'invoked oom-killer', r'Unable to handle kernel', r'VM timed out',
]
REPORT = re.compile('|'.join(REPORTS))
SELF_CHECK_LEAK = 'harness: self-check: planting a leak'
SELF_CHECK = 'harness: self-check: provoking a WARNING'


def strip(line):
    return TIMESTAMP.sub('', line.rstrip('\r\n'))


MARK_TIME = re.compile(r'\[\s*(\d+\.\d+)\]\s?harness: (userspace start|suite (\S+)|suites done|done)\s*$')
ANY_TIME = re.compile(r'^\[\s*(\d+\.\d+)\]')


def timings(raw):
    """Guest seconds per step, from the printk times of the harness's marks:
    the kernel's boot (KUnit included where it is built in) up to userspace,
    then each step up to the next mark. A step the run never finished is
    measured to the last timestamp in the log and marked unfinished."""
    marks = []
    last = None
    for line in raw:
        m = MARK_TIME.search(line)
        if m:
            marks.append((float(m.group(1)), m.group(3) or m.group(2)))
        m = ANY_TIME.match(line)
        if m:
            last = float(m.group(1))
    if not marks or marks[0][1] != 'userspace start':
        return []
    names = {'userspace start': 'module loads and a kmemleak scan',
             'suites done': 'kmemleak scans and self-checks'}
    steps = [('boot', marks[0][0])]
    for (t, name), (t_next, _) in zip(marks, marks[1:]):
        steps.append((names.get(name, name), max(0.0, t_next - t)))
    t, name = marks[-1]
    if name != 'done' and last is not None:
        steps.append((names.get(name, name) + ' (unfinished)', max(0.0, last - t)))
    return steps


def directive(rest):
    m = re.search(r'#\s*(SKIP|TODO)', rest, re.I)
    return m.group(1).upper() if m else None


def parse_kunit(lines):
    """Return {suite: {'plan': N, 'cases': [(case, status)]}}.

    A suite opens with '# Subtest: NAME' at indent 4; its plan and its
    cases' results are at that indent too; it closes with its own result
    at indent 0. Deeper lines (parameterised cases) roll up into those.
    """
    suites = OrderedDict()
    current = None
    for line in lines:
        m = SUBTEST.match(line)
        if m and len(m.group(1)) == 4:
            current = m.group(2)
            suites[current] = {'plan': None, 'cases': []}
            continue
        if current is None:
            continue
        m = PLAN.match(line)
        if m and len(m.group(1)) == 4 and suites[current]['plan'] is None:
            suites[current]['plan'] = int(m.group(2))
            continue
        m = RESULT.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        status = 'pass' if m.group(2) == 'ok' else 'fail'
        if directive(m.group(5)) == 'SKIP':
            status = 'skip'
        if indent == 4:
            suites[current]['cases'].append((m.group(4), status))
        elif indent == 0 and m.group(4) == current:
            if not suites[current]['cases']:
                # A suite without cases reports its own result only.
                suites[current]['cases'].append((current, status))
            current = None
    return suites


def parse_tap(lines):
    """Split the ttyS1 stream into suites by the harness's markers."""
    suites = OrderedDict()
    name = None
    done = False
    notes = []  # the comment lines since the last result, shown for a failure
    for raw in lines:
        line = raw.rstrip('\r\n')
        if line.startswith('# harness: suite '):
            name = line.split()[-1]
            suites[name] = {'plan': None, 'results': [], 'exit': None, 'notes': {}}
            notes = []
        elif line.startswith('# harness: exit '):
            _, _, _, n, code = line.split()
            suites[n]['exit'] = int(code)
            name = None
        elif line == '# harness: done':
            done = True
        elif name is not None:
            m = PLAN.match(line)
            if m and not m.group(1) and suites[name]['plan'] is None:
                suites[name]['plan'] = int(m.group(2))
                continue
            m = RESULT.match(line)
            if m and not m.group(1):
                d = directive(m.group(5))
                status = 'skip' if d == 'SKIP' else ('pass' if m.group(2) == 'ok' else 'fail')
                suites[name]['results'].append((m.group(4), status))
                if status == 'fail':
                    suites[name]['notes'][m.group(4)] = notes[-12:]
                notes = []
            elif line.startswith('#'):
                notes.append(line)
    return suites, done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('console')
    ap.add_argument('tap')
    ap.add_argument('--require-suite', action='append', default=[],
                    help='a KUnit suite that must have run, none of its cases skipped')
    ap.add_argument('--ours', default=r'^(ashmem|fs|kunit|memfd|miscdevice|mm|page|seq_file|shmem|shrinker|sync_lock|sync_once|task|uaccess|iov)(_|$)',
                    help='regex: doctest files to count one by one')
    ap.add_argument('--require-test', action='append', default=[],
                    help='a userspace test case that must have run and passed, not skipped')
    ap.add_argument('--no-self-check', action='store_true')
    args = ap.parse_args()

    with open(args.console, errors='replace') as f:
        raw = f.readlines()
    console = [strip(line) for line in raw]
    try:
        with open(args.tap, errors='replace') as f:
            tap = f.readlines()
    except FileNotFoundError:
        tap = []

    passed = failed = skipped = 0
    problems = []  # what fails the run besides failed tests, each counted as one failure
    failures = []  # failed tests, already counted in `failed`

    print('KUnit (console):')
    kunit = parse_kunit(console)
    for suite, info in kunit.items():
        cases = info['cases']
        if info['plan'] is not None and info['plan'] != len(cases):
            problems.append(f'KUnit {suite}: planned {info["plan"]} cases, reported {len(cases)}')
        p = sum(1 for _, s in cases if s == 'pass')
        fl = [c for c, s in cases if s == 'fail']
        sk = sum(1 for _, s in cases if s == 'skip')
        passed, failed, skipped = passed + p, failed + len(fl), skipped + sk
        print(f'  {suite}: {p} passed, {len(fl)} failed, {sk} skipped')
        for c in fl:
            print(f'    FAILED {c}')
            failures.append(f'KUnit {suite}.{c} failed')
        if suite == 'rust_doctests_kernel':
            per_file = OrderedDict()
            for c, s in cases:
                key = re.sub(r'^rust_doctest_kernel_|_rs_\d+$', '', c)
                if re.search(args.ours, key):
                    per_file.setdefault(key, [0, 0])[0 if s == 'pass' else 1] += 1
            for key, (p, other) in per_file.items():
                print(f'    {key}: {p} passed' + (f', {other} not passed' if other else ''))
    for suite in args.require_suite:
        cases = kunit.get(suite, {}).get('cases')
        if not cases:
            problems.append(f'KUnit suite {suite} did not run')
        elif any(s == 'skip' for _, s in cases):
            problems.append(f'KUnit suite {suite} skipped cases, which it must run')

    print('Userspace (the TAP channel):')
    user, done = parse_tap(tap)
    for name, s in user.items():
        res = s['results']
        p = sum(1 for _, st in res if st == 'pass')
        fl = [c for c, st in res if st == 'fail']
        sk = sum(1 for _, st in res if st == 'skip')
        passed, failed, skipped = passed + p, failed + len(fl), skipped + sk
        print(f'  {name}: {p} passed, {len(fl)} failed, {sk} skipped (exit {s["exit"]})')
        for c in fl:
            print(f'    FAILED {c}')
            for note in s['notes'].get(c, []):
                print(f'      {note}')
            failures.append(f'{name}: {c} failed')
        if s['plan'] is None or s['plan'] != len(res):
            problems.append(f'{name}: planned {s["plan"]} tests, reported {len(res)}')
        if s['exit'] is None:
            problems.append(f'{name}: did not finish')
        elif s['exit'] != 0 and not fl:
            problems.append(f'{name}: exit status {s["exit"]} with no failed test')
    if not done:
        problems.append('the userspace run did not finish (crash, panic or timeout)')
    for case in args.require_test:
        runs = [(name, st) for name, s in user.items() for c, st in s['results'] if c == case]
        if not runs:
            problems.append(f'test {case} did not run')
        for name, st in runs:
            if st != 'pass':
                problems.append(f'{name}: test {case} was required to pass, it reported {st}')
            else:
                print(f'  required test {case} passed in {name}')

    leak_at = next((i for i, line in enumerate(console) if SELF_CHECK_LEAK in line), None)
    self_check_at = next((i for i, line in enumerate(console) if SELF_CHECK in line), None)
    first = min(i for i in (leak_at, self_check_at, len(console)) if i is not None)
    before = console[:first]
    after = [] if self_check_at is None else console[self_check_at + 1:]
    planted = [] if leak_at is None else console[leak_at + 1:self_check_at]
    reports = [line for line in before if REPORT.search(line)]
    print('Kernel reports: ' + ('none' if not reports else f'{len(reports)} lines'))
    for line in reports[:40]:
        print('  ' + line)
    if reports:
        problems.append(f'{len(reports)} kernel report lines (see above)')
    if not args.no_self_check:
        if leak_at is None:
            problems.append('the harness leak self-check did not run')
        elif not any('unreferenced object' in line for line in planted):
            problems.append('the planted leak was not reported: kmemleak or its check is broken')
        else:
            print('Harness self-check: the planted leak was reported by kmemleak')
        if self_check_at is None:
            problems.append('the harness self-check did not run')
        elif not any('WARNING:' in line for line in after):
            problems.append('the self-check WARNING was not seen: report detection is broken')
        else:
            print('Harness self-check: the deliberate WARNING at the end was caught')

    steps = timings(raw)
    if steps:
        print('Guest time (s): ' + ', '.join(f'{name} {t:.0f}' for name, t in steps))

    for p in failures + problems:
        print('PROBLEM: ' + p)
    tail = f', {skipped} skipped' if skipped else ''
    print(f'{passed} passed, {failed + len(problems)} failed{tail}')
    return 1 if failures or problems else 0


if __name__ == '__main__':
    sys.exit(main())
