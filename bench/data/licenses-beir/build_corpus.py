#!/usr/bin/env python3
"""Build corpus.jsonl and provenance.tsv for licenses-beir.

Deterministic, stdlib only (Python 3.11).  Reads the licence texts in
/usr/share/common-licenses/ and a fixed list of standalone "License:" paragraphs
from Debian machine-readable /usr/share/doc/*/copyright files, cuts every licence
into clause-level passages of about 30-250 words and writes

    corpus.jsonl     {"_id": "<slug>-pNNN", "title": "<licence> — <heading>", "text": ...}
    provenance.tsv   slug, source file, licence name, redistribution terms, passages

Usage:  python3 build_corpus.py [outdir]      (default: the directory of this script)
"""
import hashlib
import json
import os
import re
import sys

MIN_WORDS = 30
MAX_WORDS = 250

GNU_TERMS = ('Text states: "Everyone is permitted to copy and distribute verbatim copies '
             'of this license document, but changing it is not allowed." Included verbatim.')
CL = '/usr/share/common-licenses/'

# (slug, source, licence full name, redistribution terms of the licence text itself)
COMMON = [
    ('apache-2.0', CL + 'Apache-2.0', 'Apache License 2.0',
     'No terms for the licence text are stated in the text; shipped verbatim by Debian base-files; '
     'included verbatim and unmodified (the ASF publishes the text for anyone to apply to their work).'),
    ('artistic-1.0', CL + 'Artistic', 'Artistic License (Perl, version 1)',
     'No terms for the licence text are stated in the text; shipped verbatim by Debian base-files; included verbatim and unmodified.'),
    ('bsd-3-clause-ucb', CL + 'BSD', 'BSD 3-Clause License (Regents of the University of California)',
     'A licence notice; by its own terms the notice must be retained with the software; reproduced verbatim.'),
    ('cc0-1.0', CL + 'CC0-1.0', 'Creative Commons CC0 1.0 Universal',
     'Creative Commons legal code; the text itself states no copying terms; Creative Commons dedicates its public licence texts to the public domain under CC0 (as stated in the CC-BY-4.0 text in this corpus); included verbatim.'),
    ('gfdl-1.2', CL + 'GFDL-1.2', 'GNU Free Documentation License 1.2', GNU_TERMS),
    ('gfdl-1.3', CL + 'GFDL-1.3', 'GNU Free Documentation License 1.3', GNU_TERMS),
    ('gpl-1', CL + 'GPL-1', 'GNU General Public License version 1', GNU_TERMS),
    ('gpl-2', CL + 'GPL-2', 'GNU General Public License version 2', GNU_TERMS),
    ('gpl-3', CL + 'GPL-3', 'GNU General Public License version 3', GNU_TERMS),
    ('lgpl-2', CL + 'LGPL-2', 'GNU Library General Public License version 2', GNU_TERMS),
    ('lgpl-2.1', CL + 'LGPL-2.1', 'GNU Lesser General Public License version 2.1', GNU_TERMS),
    ('lgpl-3', CL + 'LGPL-3', 'GNU Lesser General Public License version 3', GNU_TERMS),
    ('mpl-1.1', CL + 'MPL-1.1', 'Mozilla Public License 1.1',
     'No verbatim-copy statement; section 6.3 allows modified versions only under a new name; included verbatim and unmodified.'),
    ('mpl-2.0', CL + 'MPL-2.0', 'Mozilla Public License 2.0',
     'No verbatim-copy statement; section 10.3 allows modified versions only if renamed; included verbatim and unmodified.'),
]

PERMISSIVE_TERMS = ('Short licence notice taken from a Debian copyright file; no terms for the notice text '
                    'itself beyond its own condition that the notice be retained with copies; reproduced verbatim.')
D = '/usr/share/doc/'
# (slug, copyright file, "License:" stanza name, licence full name, terms)
DEBIAN = [
    ('psf-2.0', D + 'python3-pip-whl/copyright', 'Python', 'Python Software Foundation License 2 (with BeOpen, CNRI and CWI licences)',
     'No terms for the licence text itself; reproduced verbatim from the Debian copyright file.'),
    ('openssl-ssleay', D + 'libarchive13/copyright', 'OpenSSL+SSLeay', 'OpenSSL License and original SSLeay License', PERMISSIVE_TERMS),
    ('zlib', D + 'cmake-data/copyright', 'Zlib', 'zlib License', PERMISSIVE_TERMS),
    ('curl', D + 'curl/copyright', 'curl', 'curl License', PERMISSIVE_TERMS),
    ('isc', D + 'curl/copyright', 'ISC', 'ISC License', PERMISSIVE_TERMS),
    ('x11', D + 'curl/copyright', 'X11', 'X11 License', PERMISSIVE_TERMS),
    ('expat', D + 'amqp-tools/copyright', 'Expat', 'MIT (Expat) License', PERMISSIVE_TERMS),
    ('bsl-1.0', D + 'libheif1/copyright', 'BOOST-1.0', 'Boost Software License 1.0', PERMISSIVE_TERMS),
    ('oldap-2.8', D + 'libldap-2.5-0/copyright', 'OpenLDAP-2.8', 'OpenLDAP Public License 2.8',
     'Text states: "Permission to copy and distribute verbatim copies of this document is granted." Included verbatim.'),
    ('libpng', D + 'libpng-dev/copyright', 'libpng', 'libpng License (PNG Reference Library License)', PERMISSIVE_TERMS),
    ('ftl', D + 'libfreetype-dev/copyright', 'FTL', 'FreeType Project License (FTL)',
     'No terms for the licence text itself; reproduced verbatim from the Debian copyright file.'),
    ('unlicense', D + 'librsvg2-2/copyright', 'Unlicense', 'The Unlicense', 'Public-domain dedication template; reproduced verbatim.'),
    ('sleepycat', D + 'libdb5.3/copyright', 'Sleepycat', 'Sleepycat License (Berkeley DB)', PERMISSIVE_TERMS),
    ('ofl-1.1', D + 'libpango-1.0-0/copyright', 'OFL-1.1', 'SIL Open Font License 1.1',
     'The Debian extract omits the header of the published OFL 1.1, which states "Everyone is permitted to copy and distribute verbatim copies of this license document, but changing it is not allowed"; included verbatim.'),
    ('vim', D + 'vim-common/copyright', 'Vim', 'Vim License (charityware)',
     'No terms for the licence text itself; reproduced verbatim from the Debian copyright file.'),
    ('tcl', D + 'libpq-dev/copyright', 'Tcl', 'Tcl/Tk License', PERMISSIVE_TERMS),
    ('unicode-dfs-2016', D + 'gir1.2-glib-2.0/copyright', 'Unicode-DFS-2016', 'Unicode License Agreement - Data Files and Software (2016)', PERMISSIVE_TERMS),
    ('postgresql', D + 'libpq-dev/copyright', 'PostgreSQL', 'PostgreSQL License', PERMISSIVE_TERMS),
    ('0bsd', D + 'librhash0/copyright', '0BSD', 'Zero-Clause BSD License (0BSD)', PERMISSIVE_TERMS),
    ('bsd-4-clause', D + 'bsdextrautils/copyright', 'BSD-4-clause', 'BSD 4-Clause License (with advertising clause)', PERMISSIVE_TERMS),
    ('beerware', D + 'libldap-2.5-0/copyright', 'Beerware', 'Beerware License', PERMISSIVE_TERMS),
    ('rsa-md', D + 'erlang-asn1/copyright', 'RSA', 'RSA Data Security MD4/MD5 License', PERMISSIVE_TERMS),
    ('bitstream-vera', D + 'libpango-1.0-0/copyright', 'Bitstream-Vera', 'Bitstream Vera Fonts License', PERMISSIVE_TERMS),
    ('epl-2.0', D + 'libmosquitto1/copyright', 'EPL-2.0', 'Eclipse Public License 2.0',
     'Text (section 7) states: "Everyone is permitted to copy and distribute copies of this Agreement, but in order to avoid inconsistency the Agreement is copyrighted and may only be modified in the following manner..."; included verbatim.'),
    ('cc-by-4.0', D + 'libuv1/copyright', 'CC-BY-4.0', 'Creative Commons Attribution 4.0 International',
     'Creative Commons legal code; the text states the CC public licence texts are dedicated to the public domain under CC0; included verbatim.'),
    ('fsfullr', D + 'libharfbuzz0b/copyright', 'FSFULLR', 'FSF Unlimited License (with License Retention)', PERMISSIVE_TERMS),
    ('bzip2-1.0.6', D + 'gir1.2-glib-2.0/copyright', 'bzip2-1.0.6', 'bzip2 and libbzip2 License 1.0.6', PERMISSIVE_TERMS),
    ('less', D + 'less/copyright', 'Less', 'Less License', PERMISSIVE_TERMS),
    ('afl-2.1', D + 'dbus-bin/copyright', 'AFL-2.1', 'Academic Free License 2.1',
     'Text states: "This license is Copyright (C) 2003-2004 Lawrence E. Rosen. All rights reserved. Permission is hereby granted to copy and distribute this license without modification." Included verbatim.'),
]

STOP_AT = []  # nothing dropped


def read_common(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def read_debian(path, name):
    """Body of the first standalone 'License: <name>' paragraph with a text body."""
    with open(path, encoding='utf-8', errors='replace') as f:
        t = f.read()
    for st in re.split(r'\n[ \t]*\n', t):
        lines = st.split('\n')
        if not lines[0].startswith('License:') or lines[0][8:].strip() != name:
            continue
        body = []
        for ln in lines[1:]:
            if ln[:1] in (' ', '\t'):
                ln = ln[1:]
            body.append('' if ln.strip() == '.' else ln)
        txt = '\n'.join(body).strip('\n')
        if len(txt.split()) >= 30:
            return txt
    raise SystemExit(f'licence stanza {name!r} not found in {path}')


def words(s):
    return len(s.split())


def norm(s):
    return ' '.join(s.split())


NUM_RE = re.compile(r'^\s*(?:Section\s+)?(\d{1,2})\.(?!\d)\s+(.*)$')
PAREN_RE = re.compile(r'^\s*(\d{1,2})\)\s+(.*)$')
CCSEC_RE = re.compile(r'^\s*Section (\d+) -- (.*?)\.?$')
HEAD_WORDS = {'license', 'licence', 'terms', 'preamble', 'definitions', 'introduction', 'disclaimer',
              'apply', 'copyright', 'permission', 'conditions', 'warranty', 'exhibit', 'appendix',
              'addendum', 'statement', 'purpose', 'agreement', 'legal', 'notice', 'code', 'public',
              'termination', 'general', 'trademarks', 'using'}
SUB_RE = re.compile(r'^\s*(\d{1,2}\.\d+(?:\.\d+)*)\.?\s+(.*)$')
UNDER_RE = re.compile(r'^\s*[-=]{3,}\s*$')


def is_caps_heading(line):
    s = line.strip()
    letters = [c for c in s if c.isalpha()]
    return (3 <= len(letters) and words(s) <= 10 and all(not c.islower() for c in letters)
            and not s.endswith(','))


def is_title_heading(line):
    s = line.strip().rstrip(':')
    w = s.split()
    if not (1 <= len(w) <= 12) or s.endswith('.') or s.endswith(','):
        return False
    small = {'a', 'an', 'the', 'of', 'to', 'for', 'and', 'or', 'in', 'on', 'your', 'new', 'with', 'these', 'this', 'how', 'use', 'by'}
    caps = sum(1 for x in w if x[:1].isupper() or x[:1] in '"(')
    if not any(re.sub(r'\W', '', x.lower()) in HEAD_WORDS for x in w):
        return False
    return caps >= 1 and all(x[:1].isupper() or x.lower() in small or x[:1] in '"(-' or x[:1].isdigit() for x in w)


def clean_heading(s):
    s = norm(s).strip(' -=:')
    s = s.rstrip('.')
    return s


def paragraphs(text):
    """Split into paragraphs; underlined headings become their own paragraph."""
    text = text.replace('\r\n', '\n').replace('\f', '\n\n').replace('\t', '    ')
    # drop decorative asterisk boxes / C-comment prefixes (MPL-2.0 sections 6-7, Sleepycat)
    text = '\n'.join('' if re.fullmatch(r'\s*\*+\s*', ln) else
                     re.sub(r'\s+\*\s*$', '', re.sub(r'^\s*\*(?:\s|$)', '', ln))
                     for ln in text.split('\n'))
    out = []
    for block in re.split(r'\n[ \t]*\n', text):
        lines = [ln for ln in block.split('\n')]
        cur = []
        i = 0
        while i < len(lines):
            ln = lines[i]
            if i + 1 < len(lines) and UNDER_RE.match(lines[i + 1]) and ln.strip():
                if cur:
                    out.append('\n'.join(cur))
                    cur = []
                out.append(ln)
                i += 2
                continue
            if UNDER_RE.match(ln):
                i += 1
                continue
            cur.append(ln)
            i += 1
        if cur and '\n'.join(cur).strip():
            out.append('\n'.join(cur))
    return [p for p in out if p.strip()]


def classify(p, ccstyle=False):
    """Return (kind, heading) where kind in {'top', 'sub', None}."""
    first = p.strip().split('\n')[0].strip()
    whole = norm(p)
    if ccstyle:
        m = CCSEC_RE.match(first)
        if m:
            return 'top', f'Section {m.group(1)} — {clean_heading(m.group(2))}'
        if is_caps_heading(first) and words(whole) <= 12 and '\n' not in p.strip():
            return 'top', clean_heading(first)
        return None, None
    m = PAREN_RE.match(first)
    if m:
        mm = re.match(r'^((?:[A-Z][\w\'-]*|of|and|or|the|to|for|on|from|with|a|an|in|by)(?:\s+(?:[A-Z][\w\'-]*|of|and|or|the|to|for|on|from|with|a|an|in|by|[A-Z][\w\'-]*,)){0,7})\.\s', norm(m.group(2)) + ' ')
        if mm:
            return 'top', f'{m.group(1)}) {mm.group(1)}'
        return None, None
    m = NUM_RE.match(first)
    if m:
        rest = m.group(2)
        # "N. Title." alone, or "N. Title Case Words. Body ..."
        if words(whole) <= 12 and (is_caps_heading(rest) or is_title_heading(rest.rstrip('.')) or words(whole) <= 6):
            return 'top', clean_heading(whole)
        mm = re.match(r'^((?:[A-Z][\w\'-]*|of|and|or|the|to|for|on|from|with|a|an|in)(?:\s+(?:[A-Z][\w\'-]*|of|and|or|the|to|for|on|from|with|a|an|in)){0,7})\.\s', norm(m.group(2)) + ' ')
        if mm and mm.group(1).split()[0][0].isupper() and not mm.group(1).isupper():
            return 'top', f'{m.group(1)}. {mm.group(1)}'
        return 'top', f'Section {m.group(1)}'
    m = SUB_RE.match(first)
    if m:
        rest = m.group(2).strip()
        if words(rest) <= 8 and not rest.endswith(('.', ',')) or words(whole) <= 10:
            return 'sub', clean_heading(f'{m.group(1)}. {rest}')
        return 'sub', m.group(1)
    if words(whole) <= 12 and '\n' not in p.strip() and (is_caps_heading(first) or is_title_heading(first)):
        return 'top', clean_heading(first)
    return None, None


def split_long(text):
    """Split one over-long paragraph at sentence boundaries into near-equal chunks."""
    n = words(text)
    k = -(-n // MAX_WORDS)
    sents = re.split(r'(?<=[.;:])\s+(?=[A-Z("])', text)
    target = n / k
    chunks, cur = [], []
    for s in sents:
        cur.append(s)
        if words(' '.join(cur)) >= target and len(chunks) < k - 1:
            chunks.append(' '.join(cur))
            cur = []
    if cur:
        chunks.append(' '.join(cur))
    # last chunk too small -> merge
    if len(chunks) > 1 and words(chunks[-1]) < MIN_WORDS:
        chunks[-2] = chunks[-2] + ' ' + chunks.pop()
    return chunks


def cut(text):
    """Return list of (heading, text) passages."""
    sections = []  # each: [heading, [(subheading, para_text)]]
    top, sub = None, None
    ccstyle = bool(re.search(r'^\s*Section 1 -- ', text, re.M))
    for p in paragraphs(text):
        kind, h = classify(p, ccstyle)
        if kind == 'top':
            top, sub = h, None
            sections.append([top, []])
        elif kind == 'sub':
            sub = h
        if not sections:
            sections.append([None, []])
        sections[-1][1].append((sub, norm(p)))

    passages = []  # [heading, text]
    carry = None   # (heading, text) smaller than MIN_WORDS, carried forward
    for heading, paras in sections:
        units = []
        for sub, t in paras:
            for c in (split_long(t) if words(t) > MAX_WORDS else [t]):
                units.append((sub, c))
        sec_passages = []
        buf, buf_sub = [], None
        if carry:
            buf, buf_sub = [carry[1]], None
            carry_head = carry[0]
            carry = None
        else:
            carry_head = None
        for sub, t in units:
            cur = ' '.join(buf)
            if buf and words(cur) >= MIN_WORDS and words(cur) + words(t) > MAX_WORDS:
                sec_passages.append([buf_sub, cur])
                buf, buf_sub = [], None
            if not buf:
                buf_sub = sub
            elif buf_sub is None:
                buf_sub = sub
            buf.append(t)
            if words(' '.join(buf)) >= MIN_WORDS:
                sec_passages.append([buf_sub, ' '.join(buf)])
                buf, buf_sub = [], None
        if buf:
            rest = ' '.join(buf)
            if sec_passages and words(sec_passages[-1][1]) + words(rest) <= MAX_WORDS + 40:
                sec_passages[-1][1] += ' ' + rest
            elif sec_passages:
                sec_passages.append([buf_sub, rest])
            else:
                carry = (heading if heading else carry_head, rest)
        for sub, t in sec_passages:
            h = heading or carry_head
            if sub and h and not sub.split('.')[0] == '' and sub != h:
                h = f'{h} / {sub}' if len(sub) > 6 else h
            elif sub and not h:
                h = sub
            passages.append([h, t])
    if carry:
        if passages:
            passages[-1][1] += ' ' + carry[1]
        else:
            passages.append([carry[0], carry[1]])
    return passages


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    sources = []
    for slug, path, name, terms in COMMON:
        if os.path.islink(path):
            raise SystemExit(f'{path} is a symlink')
        sources.append((slug, path, name, terms, read_common(path)))
    for slug, path, stanza, name, terms in DEBIAN:
        sources.append((slug, f'{path} (License: {stanza})', name, terms, read_debian(path, stanza)))
    seen = {}
    for slug, path, name, terms, text in sources:
        h = hashlib.sha1(norm(text).lower().encode()).hexdigest()
        if h in seen:
            raise SystemExit(f'duplicate licence text: {slug} == {seen[h]}')
        seen[h] = slug

    n_total = 0
    with open(os.path.join(outdir, 'corpus.jsonl'), 'w', encoding='utf-8') as fc, \
         open(os.path.join(outdir, 'provenance.tsv'), 'w', encoding='utf-8') as fp:
        fp.write('slug\tsource_file\tlicence_name\tredistribution_terms\tpassages\twords\n')
        for slug, path, name, terms, text in sources:
            ps = cut(text)
            for i, (h, t) in enumerate(ps):
                title = f'{name} — {h}' if h else name
                fc.write(json.dumps({'_id': f'{slug}-p{i:03d}', 'title': title, 'text': t},
                                    ensure_ascii=False) + '\n')
            n_total += len(ps)
            fp.write(f'{slug}\t{path}\t{name}\t{terms}\t{len(ps)}\t{words(text)}\n')
    print(f'{n_total} passages from {len(sources)} licences', file=sys.stderr)


if __name__ == '__main__':
    main()
