#!/bin/sh
# doc-options.sh: every option README.md and xl-ext(1) document for a
# command appears in that command's --help (issue 26: "a test checks the
# README's documented options against --help").  An option belongs to the
# command an `xl-ext CMD ...` code line or span names, else to the
# commands of its README section (`## ...: \`xl-ext CMD\``) or its man
# page =item.  save takes migrate's options (its help says so); for
# cpuid-policy the help is that of all its subcommands.  (The reverse,
# every option of --help in the man page, is cli/man-pages.sh.)
srcdir=${XENMIG_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
XL_EXT=${XL_EXT:-$srcdir/build/xl-ext/xl-ext}
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 77; }
exec python3 - "$XL_EXT" "$srcdir/README.md" "$srcdir/docs/man/xl-ext.1.pod.in" <<'PY'
import re, subprocess, sys

xl_ext, readme, pod = sys.argv[1:4]
OPT = r'(?<![\w-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*|-[A-Za-z])(?![\w-])'

def run(*args):
    return subprocess.run([xl_ext, *args], capture_output=True, text=True).stdout

commands = [l.split()[0] for l in run('help').splitlines() if re.match(r'^ [^ ]', l)]
helps = {}
for c in commands:
    helps[c] = run('help', c)
for sub in 'features decode levels corpus host-dump check report'.split():
    helps['cpuid-policy'] += run('cpuid-policy', sub, '--help')
for sub in 'baseline create add remove relevel pin pin-gpu show'.split():
    helps['cpuid-policy'] += run('cpuid-policy', 'cluster', sub, '--help')
helps['save'] += helps['migrate']           # "save --sim [migrate's options]"

def in_help(cmd, opt):
    return re.search(r'(?<![\w-])' + re.escape(opt) + r'(?![\w-])', helps.get(cmd, ''))

checks = []     # (source, command(s), option)

def attribute(source, default_cmds, text, longs_only):
    """Options of text: after 'xl-ext CMD' they are CMD's, else default_cmds'."""
    for part in re.split(r'(?=xl-ext [a-z])', text):
        m = re.match(r'xl-ext ([a-z-]+)', part)
        cmds = [m.group(1)] if m and m.group(1) in commands else default_cmds
        if not cmds:
            continue
        for opt in re.findall(OPT, part):
            if longs_only and not opt.startswith('--'):
                continue
            checks.append((source, cmds, opt))

# README: code blocks and code spans; short options only where an
# `xl-ext CMD` line names the command (elsewhere `-s` may be ssh's).
section_cmds, block = [], None
for no, line in enumerate(open(readme), 1):
    if line.startswith('## '):
        section_cmds = [c for c in re.findall(r'`xl-ext ([a-z-]+)`', line) if c in commands]
    if line.startswith('```'):
        block = [] if block is None else None
        continue
    src = 'README.md:%d' % no
    spans = [line] if block is not None else re.findall(r'`([^`]+)`', line)
    for span in spans:
        if 'xl-ext ' in span:
            attribute(src, [], span.split('#')[0], False)
        elif section_cmds:
            attribute(src, section_cmds, span, True)

# The man page: B<...> of the =item of a command, up to the next command.
item_cmds = []
for no, line in enumerate(open(pod), 1):
    m = re.match(r'=item B<([a-z-]+)[> ]', line)
    if m and m.group(1) in commands:
        item_cmds = [m.group(1)]
    elif line.startswith('=head1'):
        item_cmds = []
    if item_cmds:
        # B<CMD --opt> names its command; a B<> right after another code
        # (I<name>B<--migratedaway>) is a word, not an option
        for b in re.findall(r'(?<!>)B<([^<>]+)>', line):
            first = b.split()[0] if b.split() else ''
            cmds = [first] if first in commands else item_cmds
            for opt in re.findall(OPT, b):
                checks.append(('xl-ext.1.pod.in:%d' % no, cmds, opt))

n = fail = 0
seen = set()
for src, cmds, opt in checks:
    key = (tuple(cmds), opt, src.split(':')[0])
    if key in seen:
        continue
    seen.add(key)
    n += 1
    ok = any(in_help(c, opt) for c in cmds)
    print('%s %d - %s: %s is in --help of %s' % ('ok' if ok else 'not ok', n, src, opt,
                                                   ' or '.join(cmds)))
    fail |= not ok
if n < 40:
    print('not ok %d - only %d documented options found: the parser lost them' % (n + 1, n))
    fail, n = 1, n + 1
print('1..%d' % n)
sys.exit(fail)
PY
