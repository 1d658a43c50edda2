#!/usr/bin/env python3
"""Regenerate corpus.jsonl (BEIR format) from the CMU QA dev-set Wikipedia articles.

Deterministic and standard-library only. Usage:

    python3 build_corpus.py [--articles DIR] [--out corpus.jsonl]

DIR is the folder holding set1/ .. set4/ with aN.txt files. When not given, the script
tries $PARAPHRASE_BEIR_ARTICLES, then <repo>/shared/data/cmu-qa-dev/articles, then
/work/shared/data/cmu-qa-dev/articles.

Splitting rule (see README.md):
  * decode as UTF-8, falling back to cp1252; the first non-empty line is the title;
  * every non-empty line is a unit; drop units that are headings or clutter:
    <= 3 words, image file names, short lines ending in ':' (list headings), and
    bibliography bullets ('*' lines that cite years / pages / ISBN / editions);
  * units over 250 words are split at sentence boundaries into near-equal chunks;
  * consecutive units are merged greedily until a passage has >= 40 words, never
    exceeding 250 words; a short leftover is appended to the previous passage of the
    same article when it fits, otherwise dropped;
  * passage ids are s<set>a<article>-p<NNN>, numbered from 0 within each article.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
from pathlib import Path

MIN_WORDS = 40
MAX_WORDS = 250

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

IMAGE_RE = re.compile(r"\.(jpe?g|png|gif|svg|tiff?)\s*$", re.I)
BIBLIO_RE = re.compile(r"\(\d{4}\)|\b\d{4}\.|\bpp\.|ISBN|\bvols?\.|\beds?\.|\bretrieved\b", re.I)
SENT_SPLIT_RE = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z\"'(])")


def default_articles_dir() -> Path:
    candidates = []
    env = os.environ.get("PARAPHRASE_BEIR_ARTICLES")
    if env:
        candidates.append(Path(env))
    candidates.append(REPO / "shared" / "data" / "cmu-qa-dev" / "articles")
    candidates.append(Path("/work/shared/data/cmu-qa-dev/articles"))
    for c in candidates:
        if c.is_dir():
            return c
    raise SystemExit("articles folder not found; pass --articles DIR")


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\u00a0", " ")).strip()


def is_clutter(line: str) -> bool:
    words = line.split()
    if len(words) <= 3:
        return True
    if IMAGE_RE.search(line):
        return True
    if line.endswith(":") and len(words) < 12:
        return True
    if line.startswith("*") and BIBLIO_RE.search(line):
        return True
    return False


def split_long(text: str) -> list[str]:
    """Split a unit over MAX_WORDS words at sentence boundaries into near-equal chunks."""
    n_words = len(text.split())
    if n_words <= MAX_WORDS:
        return [text]
    sentences = [s for s in SENT_SPLIT_RE.split(text) if s.strip()]
    # a single sentence over the limit: hard split on words
    pieces: list[str] = []
    for s in sentences:
        w = s.split()
        while len(w) > MAX_WORDS:
            pieces.append(" ".join(w[:MAX_WORDS]))
            w = w[MAX_WORDS:]
        if w:
            pieces.append(" ".join(w))
    n_chunks = math.ceil(n_words / MAX_WORDS)
    target = n_words / n_chunks
    chunks: list[list[str]] = [[]]
    count = 0
    for p in pieces:
        pw = len(p.split())
        if chunks[-1] and (count + pw > MAX_WORDS or count >= target):
            chunks.append([])
            count = 0
        chunks[-1].append(p)
        count += pw
    return [" ".join(c) for c in chunks]


def article_passages(text: str) -> tuple[str, list[str]]:
    lines = [norm(l) for l in text.splitlines()]
    lines = [l for l in lines if l]
    title = lines[0].replace("_", " ")
    units: list[str] = []
    for line in lines[1:]:
        if is_clutter(line):
            continue
        units.extend(split_long(line))

    passages: list[str] = []
    buf: list[str] = []
    buf_words = 0

    def flush_short() -> None:
        # leftover below MIN_WORDS: attach to the previous passage if it fits, else drop
        nonlocal buf, buf_words
        if buf:
            joined = " ".join(buf)
            if passages and len(passages[-1].split()) + buf_words <= MAX_WORDS:
                passages[-1] = passages[-1] + " " + joined
        buf, buf_words = [], 0

    for u in units:
        uw = len(u.split())
        if buf and buf_words + uw > MAX_WORDS:
            flush_short()  # buf is always < MIN_WORDS here
        buf.append(u)
        buf_words += uw
        if buf_words >= MIN_WORDS:
            passages.append(" ".join(buf))
            buf, buf_words = [], 0
    flush_short()
    return title, passages


def article_files(root: Path) -> list[tuple[int, int, Path]]:
    out = []
    for p in root.glob("set*/a*.txt"):
        m_set = re.fullmatch(r"set(\d+)", p.parent.name)
        m_art = re.fullmatch(r"a(\d+)\.txt", p.name)
        if m_set and m_art:
            out.append((int(m_set.group(1)), int(m_art.group(1)), p))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "corpus.jsonl")
    args = ap.parse_args()
    root = args.articles or default_articles_dir()

    n = 0
    n_articles = 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for set_no, art_no, path in article_files(root):
            title, passages = article_passages(read_text(path))
            n_articles += 1
            for i, text in enumerate(passages):
                rec = {"_id": f"s{set_no}a{art_no}-p{i:03d}", "title": title, "text": text}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
    print(f"wrote {n} passages from {n_articles} articles to {args.out}")


if __name__ == "__main__":
    main()
