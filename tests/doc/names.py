#!/usr/bin/env python3
"""What doc-config.test compares: configuration names as the code reads
them, as the manual pages list them, as the example files set them.

  names.py code TOP PROGRAM     the shipmail.conf names PROGRAM reads:
                                "name<TAB>kind<TAB>default" per line
  names.py plugin TOP           the Dovecot plugin's settings, one a line
  names.py tags PAGE            the words of the page's .TP entries
  names.py example FILE         "name<TAB>commented<TAB>value" per line
  names.py value KIND VALUE     VALUE as the code would take it

PROGRAM is a program of a Makefile.am below TOP (shipmail-fetch,
shipmail-shore, ...): its sources are its _SOURCES and those of the
libraries of the tree it links.  A name is read where a configuration
(an argument called cfg) is passed to a function together with a string
literal, or with a variable that holds one ("name = ...", or
snprintf(name, ..., "prefix_%s"), which stands for prefix_NAME).  The
function says how the value is read (READERS); a function that is not
in READERS is reported as "?", so that a new wrapper cannot hide a
name.  Defaults are C expressions: strings, NULL, numbers, products and
macros defined in the tree; anything else is "?".  kind is size,
seconds, count, bool, string or required; default "-" means none.
"""

import glob
import os
import re
import sys

# function: (kind, where the default is: the argument after the name,
# or a fixed value, or None when there is none)
READERS = {
    "config_get": ("string", 1),
    "config_get_command": ("string", 1),
    "config_get_size": ("size", 1),
    "config_get_seconds": ("seconds", 1),
    "config_get_bool": ("bool", 1),
    "get_count": ("count", 1),              # ship-fetch/fetch.c
    "get_required": ("required", None),     # ship-fetch/fetch.c
    "load_keyword": ("string", 1),          # milter/policy.c
    "load_limit_table": ("string", ""),     # milter/policy.c: a list
}
# Functions that name a parameter without reading it (messages).
NOT_READERS = {"origin", "config_origin"}

NAME = r'[a-z][a-z0-9_]*'


def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def makefile_vars(path):
    """name = value (continuation lines joined; += appends)."""
    out = {}
    text = open(path).read().replace('\\\n', ' ')
    for line in text.splitlines():
        m = re.match(r'^([A-Za-z0-9_]+)\s*(\+?=)\s*(.*)$', line)
        if m:
            old = out.get(m.group(1), '') if m.group(2) == '+=' else ''
            out[m.group(1)] = (old + ' ' + m.group(3)).strip()
    return out


def canonical(name):
    return re.sub(r'[^A-Za-z0-9_]', '_', name)


def program_sources(top, program):
    """The C files of program: its own, and those of the tree's
    libraries it links (found through _LDADD and _LIBADD)."""
    for mk in sorted(glob.glob(os.path.join(top, '*', 'Makefile.am'))):
        mvars = makefile_vars(mk)
        if canonical(program) + '_SOURCES' in mvars:
            return target_sources(top, os.path.dirname(mk), program,
                                  set())
    raise SystemExit('names.py: no program %s below %s' % (program, top))


def target_sources(top, directory, target, seen):
    if (directory, target) in seen:
        return []
    seen.add((directory, target))
    mvars = makefile_vars(os.path.join(directory, 'Makefile.am'))
    name = canonical(target)
    files = [os.path.join(directory, f)
             for f in mvars.get(name + '_SOURCES', '').split()
             if f.endswith('.c')]
    libs = (mvars.get(name + '_LDADD', '') + ' ' +
            mvars.get(name + '_LIBADD', '')).split()
    for lib in libs:
        if not lib.endswith('.la'):
            continue
        path = lib.replace('$(top_builddir)', top)
        libdir = os.path.dirname(path) or directory
        files += target_sources(top, os.path.normpath(libdir),
                                os.path.basename(path), seen)
    return files


def macros(top):
    """#define NAME value, over every C file and header of the tree."""
    out = {}
    for path in glob.glob(os.path.join(top, '*', '*.[ch]')):
        for m in re.finditer(r'^#define\s+([A-Z0-9_]+)[ \t]+([^\n]+)$',
                             strip_comments(open(path).read()), re.M):
            out.setdefault(m.group(1), m.group(2).strip())
    return out


def split_args(text, start):
    """The arguments of the call whose '(' is at text[start]."""
    args, depth, cur, i, quote = [], 0, '', start + 1, False
    while i < len(text):
        c = text[i]
        if quote:
            cur += c
            if c == '\\':
                cur += text[i + 1]
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur += c
        elif c in '([{':
            depth += 1
            cur += c
        elif c in ')]}':
            if depth == 0:
                args.append(cur.strip())
                return args
            depth -= 1
            cur += c
        elif c == ',' and depth == 0:
            args.append(cur.strip())
            cur = ''
        else:
            cur += c
        i += 1
    return args


def call_start(text, pos):
    """Where the '(' of the call around text[pos] is, and its name."""
    depth = 0
    i = pos
    while i > 0:
        i -= 1
        if text[i] == ')':
            depth += 1
        elif text[i] == '(':
            if depth == 0:
                m = re.search(r'([A-Za-z_][A-Za-z0-9_]*)\s*$', text[:i])
                return i, m.group(1) if m else ''
            depth -= 1
    return -1, ''


def evaluate(expr, defs, depth=0):
    """A C default as shipmail.conf would spell it, or '?'."""
    expr = expr.strip()
    if depth > 10:
        return '?'
    if expr == 'NULL':
        return '-'
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', expr)
    if strings and re.fullmatch(r'(\s*"(?:[^"\\]|\\.)*"\s*)+', expr):
        value = ''.join(strings)
        return value if value != '' else '-'
    if expr in defs:
        return evaluate(defs[expr], defs, depth + 1)
    expanded = re.sub(r'\b[A-Z][A-Z0-9_]*\b',
                      lambda m: '(' + defs.get(m.group(0), 'x') + ')', expr)
    if re.fullmatch(r'[0-9\s*+()]+', expanded):
        return str(eval(expanded, {'__builtins__': {}}))
    return '?'


def code_names(top, program):
    defs = macros(top)
    found = {}
    for path in program_sources(top, program):
        text = strip_comments(open(path).read())
        for chunk in re.split(r'\n}\n', text):
            found.update(chunk_names(chunk, defs, path))
    return found


def chunk_names(chunk, defs, path):
    # Variables that hold a name, then the calls that pass them.
    bound = {}
    for m in re.finditer(r'\b(\w+)\s*=\s*"(%s)"\s*;' % NAME, chunk):
        bound[m.group(1)] = m.group(2)
    for m in re.finditer(r'snprintf\(\s*(\w+)\s*,[^;]*?"(%s_)%%s"'
                         % NAME, chunk):
        bound[m.group(1)] = m.group(2) + 'NAME'
    for var, literal in bound.items():
        chunk = re.sub(r'(\bcfg\s*,\s*)%s\b' % re.escape(var),
                       lambda m: m.group(1) + '"' + literal + '"', chunk)

    out = {}
    for m in re.finditer(r'\bcfg\s*,\s*"(%s|%s_NAME)"' % (NAME, NAME),
                         chunk):
        name = m.group(1)
        start, func = call_start(chunk, m.start())
        if func in NOT_READERS:
            continue
        if func not in READERS:
            out[name] = ('?', '? (%s: read by %s())' % (path, func))
            continue
        kind, where = READERS[func]
        if where is None:
            default = '-'
        elif isinstance(where, str):
            default = where or '-'
        else:
            args = split_args(chunk, start)
            idx = next((i for i, a in enumerate(args)
                        if a == '"%s"' % name), None)
            if idx is None or idx + where >= len(args):
                default = '?'
            else:
                default = evaluate(args[idx + where], defs)
        if kind == 'string' and default not in ('-', '?'):
            default = ' '.join(default.split())
        out[name] = (kind, default)
    return out


def plugin_names(top):
    names = set()
    for path in glob.glob(os.path.join(top, 'dovecot-plugin', '*.c')):
        if os.path.basename(path).startswith('test-'):
            continue
        text = strip_comments(open(path).read())
        names.update(re.findall(r'getenv\w*\(\s*(?:\w+\s*,\s*)?'
                                r'"(shipmail_[a-z0-9_]+)"', text))
    return sorted(names)


def roff_text(line):
    """A line of roff as text: font macros joined, escapes dropped."""
    m = re.match(r'^\.(B|I|BR|BI|IB|IR|RB|RI|SM|SB)\s+(.*)$', line)
    if m:
        args = re.findall(r'"([^"]*)"|(\S+)', m.group(2))
        line = ''.join(a or b for a, b in args)
    elif line.startswith('.'):
        return ''
    line = re.sub(r'\\f(\[[^]]*\]|.)', '', line)
    line = line.replace('\\-', '-').replace('\\&', '').replace('\\ ', ' ')
    return line


def page_tags(page):
    lines = open(page).read().splitlines()
    words = set()
    for i, line in enumerate(lines[:-1]):
        if line.startswith('.TP'):
            words.update(re.findall(r'[A-Za-z0-9_]+', roff_text(lines[i + 1])))
    return sorted(words)


def example(path):
    for line in open(path):
        m = re.match(r'^(#?)\s*(%s)\s*=\s*(.*?)\s*$' % NAME, line)
        if m and '_' in m.group(2):
            print('%s\t%d\t%s' % (m.group(2), m.group(1) == '#',
                                  ' '.join(m.group(3).split())))


def value(kind, text):
    text = text.strip()
    if kind in ('size', 'count'):
        m = re.fullmatch(r'([0-9]+)\s*([kKmMgG]?)[bB]?', text)
        if not m:
            return '?'
        unit = {'': 1, 'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}
        return str(int(m.group(1)) * unit[m.group(2).lower()])
    if kind == 'seconds':
        m = re.fullmatch(r'([0-9]+)\s*([smhd]?)', text)
        if not m:
            return '?'
        unit = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}
        return str(int(m.group(1)) * unit[m.group(2)])
    if kind == 'bool':
        return {'yes': '1', 'no': '0'}.get(text, text)
    return ' '.join(text.split()) or '-'


def main(argv):
    if len(argv) == 4 and argv[1] == 'code':
        for name, (kind, default) in sorted(code_names(argv[2],
                                                       argv[3]).items()):
            print('%s\t%s\t%s' % (name, kind, default))
    elif len(argv) == 3 and argv[1] == 'plugin':
        print('\n'.join(plugin_names(argv[2])))
    elif len(argv) == 3 and argv[1] == 'tags':
        print('\n'.join(page_tags(argv[2])))
    elif len(argv) == 3 and argv[1] == 'example':
        example(argv[2])
    elif len(argv) == 4 and argv[1] == 'value':
        print(value(argv[2], argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
