#!/usr/bin/env python3
"""Build corpus.jsonl for debian-entities-beir (deterministic, stdlib only).

Entities:
  1. every package in /var/lib/dpkg/status (short + long description);
  2. "sibling" distractors: packages of the bookworm main index that are built
     from the same source package as an installed package (e.g. -doc, -dev,
     other library splits), capped at SIBLING_CAP per source;
  3. random distractors: random.Random(DISTRACTOR_SEED).sample() of the remaining
     index packages (sorted by name), N_RANDOM of them.
Index-only entries have only a short description; their text is the short
description plus sentences built from the Section and Tag fields.
Duplicate names (arch all/any, security/updates overlap) keep the first seen:
dpkg status first, then bookworm, bookworm-security, bookworm-updates.

Usage: python3 build_corpus.py [--status PATH] [--lists DIR] [--out corpus.jsonl]
"""
import argparse
import json
import os
import random
import re
import subprocess

DISTRACTOR_SEED = 20261205
N_RANDOM = 1800
SIBLING_CAP = 6
INDEXES = [
    "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
    "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4",
    "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.lz4",
]


def parse_stanzas(text):
    """Yield dicts of field -> raw value (continuation lines kept with '\n')."""
    for block in re.split(r"\n\s*\n", text):
        fields = {}
        key = None
        for line in block.split("\n"):
            if not line:
                continue
            if line[0] in " \t" and key is not None:
                fields[key] += "\n" + line
            else:
                k, _, v = line.partition(":")
                key = k.strip()
                fields[key] = v.strip()
        if "Package" in fields:
            yield fields


def describe(desc):
    """Return (short, [long paragraphs]) from a raw Description value."""
    lines = desc.split("\n")
    short = lines[0].strip()
    paras, cur = [], []
    for line in lines[1:]:
        s = line.strip()
        if s == ".":
            if cur:
                paras.append(" ".join(cur))
            cur = []
        elif s:
            cur.append(s)
    if cur:
        paras.append(" ".join(cur))
    return short, paras


def end_sentence(s):
    s = s.strip()
    return s if s.endswith((".", "!", "?", ":")) else s + "."


def source_name(f):
    return f.get("Source", f["Package"]).split()[0]


def index_text(f):
    short, paras = describe(f.get("Description", ""))
    parts = [end_sentence(short)] + [p for p in paras]
    if f.get("Section"):
        parts.append("Section: %s." % f["Section"])
    tags = [t.strip() for t in f.get("Tag", "").replace("\n", " ").split(",") if t.strip()]
    if tags:
        parts.append("Tags: %s." % ", ".join(tags))
    return " ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--status", default="/var/lib/dpkg/status")
    ap.add_argument("--lists", default="/var/lib/apt/lists")
    ap.add_argument("--out", default=os.path.join(here, "corpus.jsonl"))
    args = ap.parse_args()

    docs = {}  # name -> doc (insertion order kept)
    installed_sources = {}
    with open(args.status, encoding="utf-8") as fh:
        for f in parse_stanzas(fh.read()):
            name = f["Package"]
            if name in docs:
                continue
            short, paras = describe(f.get("Description", ""))
            text = " ".join([end_sentence(short)] + paras)
            docs[name] = {"_id": name, "title": name, "text": text}
            installed_sources[source_name(f)] = name

    index = {}  # name -> fields, first seen wins
    for fn in INDEXES:
        path = os.path.join(args.lists, fn)
        if not os.path.exists(path):
            continue
        raw = subprocess.run(["lz4cat", path], check=True, capture_output=True).stdout
        for f in parse_stanzas(raw.decode("utf-8", "replace")):
            index.setdefault(f["Package"], f)

    n_installed = len(docs)
    # siblings: same source package as an installed package, capped per source
    by_source = {}
    for name in sorted(index):
        if name in docs:
            continue
        src = source_name(index[name])
        if src in installed_sources:
            by_source.setdefault(src, []).append(name)
    siblings = []
    for src in sorted(by_source):
        siblings.extend(by_source[src][:SIBLING_CAP])
    for name in siblings:
        docs[name] = {"_id": name, "title": name, "text": index_text(index[name])}

    rest = sorted(n for n in index if n not in docs)
    rng = random.Random(DISTRACTOR_SEED)
    for name in sorted(rng.sample(rest, N_RANDOM)):
        docs[name] = {"_id": name, "title": name, "text": index_text(index[name])}

    with open(args.out, "w", encoding="utf-8") as out:
        for d in docs.values():
            out.write(json.dumps(d, ensure_ascii=False) + "\n")
    print("installed %d, siblings %d, random %d, total %d"
          % (n_installed, len(siblings), N_RANDOM, len(docs)))


if __name__ == "__main__":
    main()
