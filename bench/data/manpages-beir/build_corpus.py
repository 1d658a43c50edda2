#!/usr/bin/env python3
"""Build corpus.jsonl and provenance.tsv for manpages-beir from installed man pages.

Deterministic: a fixed list of pages, rendered with man-db at a fixed width and locale,
overstrikes removed with `col -bx`, then cut into passages per man-page section:
paragraphs (blank-line separated; an option's tag line and its description form one
paragraph) are packed into passages of about 40-250 words, a new passage is started at a
subsection heading, sections shorter than 40 words are carried into the next section, and
paragraphs longer than 250 words are split on sentence boundaries.

Usage: python3 build_corpus.py   (writes next to this script; stdlib only)
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# (section, page) -- fixed list, order is the corpus order.
PAGES = [
    # coreutils
    ("1", "ls"), ("1", "cp"), ("1", "mv"), ("1", "rm"), ("1", "mkdir"), ("1", "chmod"),
    ("1", "chown"), ("1", "ln"), ("1", "du"), ("1", "df"), ("1", "sort"), ("1", "uniq"),
    ("1", "cut"), ("1", "head"), ("1", "tail"), ("1", "wc"), ("1", "tr"), ("1", "date"),
    ("1", "touch"), ("1", "stat"), ("1", "split"), ("1", "tee"), ("1", "timeout"),
    ("1", "nohup"), ("1", "env"), ("1", "seq"), ("1", "dd"),
    # findutils, grep, sed, gawk
    ("1", "find"), ("1", "xargs"), ("1", "grep"), ("1", "sed"), ("1", "gawk"),
    # archivers / compressors
    ("1", "tar"), ("1", "gzip"), ("1", "xz"), ("1", "bzip2"), ("1", "zip"), ("1", "unzip"),
    # openssh
    ("1", "ssh"), ("1", "scp"), ("1", "ssh-keygen"), ("5", "ssh_config"), ("1", "ssh-agent"),
    ("1", "ssh-copy-id"),
    # network transfer
    ("1", "curl"), ("1", "wget"), ("1", "rsync"),
    # git
    ("1", "git-commit"), ("1", "git-rebase"), ("1", "git-log"), ("1", "git-stash"),
    ("1", "git-reset"), ("1", "git-clone"), ("1", "git-diff"), ("5", "gitignore"),
    # build
    ("1", "make"),
    # procps
    ("1", "ps"), ("1", "top"), ("1", "free"), ("1", "watch"), ("1", "kill"),
    # systemd
    ("1", "systemctl"), ("1", "journalctl"),
    # packaging
    ("8", "apt"), ("8", "apt-get"), ("1", "dpkg"), ("1", "dpkg-query"),
    # diff / patch, pagers, terminal
    ("1", "diff"), ("1", "patch"), ("1", "less"), ("1", "tmux"),
    # system
    ("8", "ip"), ("8", "ss"), ("8", "mount"), ("8", "lsblk"), ("8", "useradd"), ("1", "file"),
]

# Debian package -> short licence name of the man page text, read from
# /usr/share/doc/<package>/copyright (the stanza covering the man pages, else Files: *).
LICENCES = {
    "coreutils": "GPL-3+",
    "findutils": "GPL-3+",
    "grep": "GPL-3+",
    "sed": "GPL-3+",
    "gawk": "FSF-manpages (permission notice in the page; package GPL-3+)",
    "tar": "GPL-3+",
    "gzip": "FSF-manpages (permission notice in the page)",
    "xz-utils": "public-domain",
    "bzip2": "BSD-variant",
    "zip": "Info-ZIP (BSD-like)",
    "unzip": "Info-ZIP (BSD-like)",
    "openssh-client": "OpenSSH (BSD-style)",
    "curl": "curl (MIT/X-style)",
    "wget": "GFDL-1.3+ no invariant sections (notice in the page; program GPL-3+)",
    "rsync": "GPL-3+",
    "git-man": "GPL-2",
    "make": "GPL-3+",
    "procps": "GPL-2+",
    "systemd": "LGPL-2.1+",
    "apt": "GPL-2+",
    "dpkg": "GPL-2+",
    "diffutils": "GPL-3+",
    "patch": "GPL-3+",
    "less": "GPL-3+ or Less",
    "tmux": "ISC",
    "iproute2": "GPL-2",
    "mount": "GPL-2+",
    "util-linux": "GPL-2+",
    "passwd": "BSD-3-clause",
    "file": "BSD-2-Clause-alike",
}

MIN_WORDS = 40
MAX_WORDS = 250

CHAR_MAP = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-",
    "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
    "\u27e8": "<", "\u27e9": ">", "\u2022": " ", "\u00b7": " ", "\u00a0": " ",
}


def norm_chars(s):
    out = []
    for c in s:
        if c in CHAR_MAP:
            out.append(CHAR_MAP[c])
        elif "\u2500" <= c <= "\u257f":  # box drawing (tables)
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


def render(sec, page):
    env = dict(os.environ)
    env.update({"MANWIDTH": "100", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
                "MAN_KEEP_FORMATTING": "", "MANPAGER": "cat", "PAGER": "cat"})
    env.pop("MANOPT", None)
    raw = subprocess.run(["man", "--nj", "--nh", "-P", "cat", sec, page], env=env,
                         capture_output=True, check=True).stdout
    txt = subprocess.run(["col", "-bx"], input=raw, env=env, capture_output=True,
                         check=True).stdout.decode("utf-8", "replace")
    return norm_chars(txt)


def man_path(sec, page):
    env = dict(os.environ, LC_ALL="C.UTF-8")
    return subprocess.run(["man", "-w", sec, page], env=env, capture_output=True,
                          check=True, text=True).stdout.strip()


def package_of(path):
    real = os.path.realpath(path)
    for p in (path, real):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].split(",")[0].strip()
    return "?"


def pkg_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                       text=True)
    return r.stdout.strip()


def wc(s):
    return len(s.split())


def clean(s):
    return re.sub(r"\s+", " ", s).strip()


def parse_sections(txt):
    """Return [(section_name, [paragraph, ...])]; paragraph = (text, starts_subsection)."""
    lines = txt.split("\n")
    nonempty = [i for i, l in enumerate(lines) if l.strip()]
    if len(nonempty) >= 2:  # drop running header and footer
        lines = lines[nonempty[0] + 1:nonempty[-1]]
    sections = []
    name, paras, cur, cur_sub = None, [], [], False

    def end_para():
        nonlocal cur, cur_sub
        if cur:
            t = ""
            for ln in cur:  # re-join words broken at an explicit hyphen
                ln = ln.strip()
                if re.search(r"[A-Za-z]-$", t) and re.match(r"[a-z]", ln):
                    t += ln
                else:
                    t += " " + ln
            t = clean(t)
            if t:
                paras.append((t, cur_sub))
        cur, cur_sub = [], False

    for line in lines:
        if not line.strip():
            end_para()
            continue
        if not line[0].isspace():  # section heading
            end_para()
            if name is not None:
                sections.append((name, paras))
            name, paras = clean(line), []
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 3 and wc(line) <= 10:  # subsection heading
            end_para()
            cur, cur_sub = [line], True
            continue
        cur.append(line)
    end_para()
    if name is not None:
        sections.append((name, paras))
    return sections


def split_long(text):
    """Split a paragraph of more than MAX_WORDS words on sentence boundaries."""
    sents = re.split(r"(?<=[.:;!?])\s+(?=[A-Z\-\"'(])", text)
    chunks, cur = [], []
    for s in sents:
        w = s.split()
        while len(w) > MAX_WORDS:  # a single over-long sentence (tables, lists)
            if cur:
                chunks.append(cur)
                cur = []
            chunks.append(w[:200])
            w = w[200:]
        if cur and len(cur) + len(w) > MAX_WORDS:
            chunks.append(cur)
            cur = []
        cur = cur + w
    if cur:
        if chunks and len(cur) < MIN_WORDS and len(chunks[-1]) + len(cur) <= MAX_WORDS + 50:
            chunks[-1] = chunks[-1] + cur
        else:
            chunks.append(cur)
    return [" ".join(c) for c in chunks]


def cut_page(sections):
    """Return [(title_sections, text)]."""
    out = []
    carry_names, carry = [], []  # small sections carried forward
    for name, paras in sections:
        names = carry_names + [name]
        sec_out = []
        cur = list(carry)
        carry_names, carry = [], []
        for text, sub in paras:
            cw = wc(" ".join(cur))
            w = wc(text)
            if cur and cw >= MIN_WORDS and (sub or cw + w > MAX_WORDS):
                sec_out.append(" ".join(cur))
                cur = []
                cw = 0
            if w > MAX_WORDS:
                pieces = split_long(text)
                if cur:
                    if cw < MIN_WORDS:
                        pieces[0] = " ".join(cur) + " " + pieces[0]
                    else:
                        sec_out.append(" ".join(cur))
                    cur = []
                sec_out.extend(pieces[:-1])
                cur = [pieces[-1]]
            else:
                cur.append(text)
        rest = " ".join(cur)
        if rest:
            if wc(rest) >= MIN_WORDS:
                sec_out.append(rest)
            elif sec_out and wc(sec_out[-1]) + wc(rest) <= MAX_WORDS + 50:
                sec_out[-1] = sec_out[-1] + " " + rest
            else:
                carry_names, carry = names, [rest]
                names = []
        for k, t in enumerate(sec_out):
            out.append((names if k == 0 else [name], t))
    if carry:
        if out and wc(out[-1][1]) + wc(" ".join(carry)) <= MAX_WORDS + 50:
            n, t = out[-1]
            out[-1] = (n + [x for x in carry_names if x not in n], t + " " + " ".join(carry))
        else:
            out.append((carry_names, " ".join(carry)))
    return out


def main():
    corpus_path = os.path.join(HERE, "corpus.jsonl")
    prov_path = os.path.join(HERE, "provenance.tsv")
    n_total = 0
    with open(corpus_path, "w", encoding="utf-8") as fc, \
            open(prov_path, "w", encoding="utf-8") as fp:
        fp.write("page\tsection\tpackage\tversion\tlicence\tpassages\n")
        for sec, page in PAGES:
            path = man_path(sec, page)
            pkg = package_of(path)
            txt = render(sec, page)
            passages = cut_page(parse_sections(txt))
            for i, (names, text) in enumerate(passages):
                rec = {"_id": f"{page}-p{i:03d}",
                       "title": f"{page}({sec}) \u2014 {' / '.join(names)}",
                       "text": text}
                fc.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fp.write(f"{page}\t{sec}\t{pkg}\t{pkg_version(pkg)}\t"
                     f"{LICENCES.get(pkg, '?')}\t{len(passages)}\n")
            n_total += len(passages)
            print(f"{page}({sec}) {pkg}: {len(passages)} passages", file=sys.stderr)
    print(f"total passages: {n_total}", file=sys.stderr)


if __name__ == "__main__":
    main()
