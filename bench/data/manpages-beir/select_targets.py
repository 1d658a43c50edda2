#!/usr/bin/env python3
"""Print the target draw order for manpages-beir (deterministic; stdlib only).

Main targets: eligible passages = >= 40 words, and the first section named in the title is
not an author/copyright/bug-reporting/see-also/history-type section. Eligible ids are
sorted in corpus order and shuffled with random.Random(20261205); the annotator walks the
shuffled list, skipping draws with no answerable fact, until N_MAIN queries are written.
Entity targets: after the main shuffle the same generator draws 12 pages (sorted page list);
each page's first passage (NAME/DESCRIPTION) is the target of an entity-style query.
"""
import json, os, random, sys
HERE = os.path.dirname(os.path.abspath(__file__))
EXCLUDED = {"AUTHOR", "AUTHORS", "COPYRIGHT", "REPORTING BUGS", "SEE ALSO", "BUG REPORTS",
            "COPYING PERMISSIONS", "COPYRIGHT NOTICE", "ACKNOWLEDGEMENTS", "CREDITS",
            "THANKS", "HISTORY", "COPYING", "LEGAL NOTICE", "VERSION INFORMATION",
            "VERSION", "VERSIONS", "TODO"}
corpus = [json.loads(l) for l in open(os.path.join(HERE, "corpus.jsonl"), encoding="utf-8")]
def first_section(t):
    return t.split(" \u2014 ", 1)[1].split(" / ")[0]
eligible = [d for d in corpus if len(d["text"].split()) >= 40
            and first_section(d["title"]) not in EXCLUDED]
rng = random.Random(20261205)
order = rng.sample(eligible, len(eligible))
pages = sorted({d["_id"].rsplit("-p", 1)[0] for d in corpus})
ent = rng.sample(pages, 12)
if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    print(f"# eligible {len(eligible)} of {len(corpus)}")
    for i, d in enumerate(order[:n], 1):
        print(f"draw {i}\t{d['_id']}\t{d['title']}")
    for i, p in enumerate(ent, 1):
        print(f"entity {i}\t{p}-p000")
