#!/usr/bin/env python3
"""Sanity checks and statistics for manpages-beir (stdlib only).

Checks: every qrel id exists, every query has a score-2 passage, no query shares a run of
4+ consecutive [a-z0-9]+ tokens with any of its relevant passages. Prints counts and the
lexical overlap: fraction of a query's non-stopword tokens that occur in the union of its
relevant passages' tokens (lower-cased [a-z0-9]+ tokens; NLTK English stopword list).
"""
import collections, json, os, re, statistics
HERE = os.path.dirname(os.path.abspath(__file__))
STOP = set("""i me my myself we our ours ourselves you you're you've you'll you'd your yours
yourself yourselves he him his himself she she's her hers herself it it's its itself they them
their theirs themselves what which who whom this that that'll these those am is are was were be
been being have has had having do does did doing a an the and but if or because as until while
of at by for with about against between into through during before after above below to from up
down in out on off over under again further then once here there when where why how all any both
each few more most other some such no nor not only own same so than too very s t can will just
don don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn
doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn
needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't""".split())
tok = lambda s: re.findall(r"[a-z0-9]+", s.lower())
corpus = {}
for l in open(os.path.join(HERE, "corpus.jsonl"), encoding="utf-8"):
    d = json.loads(l); corpus[d["_id"]] = d
queries = [json.loads(l) for l in open(os.path.join(HERE, "queries.jsonl"), encoding="utf-8")]
qrels = collections.defaultdict(dict)
with open(os.path.join(HERE, "qrels", "test.tsv")) as f:
    assert next(f).rstrip("\n") == "query-id\tcorpus-id\tscore"
    for line in f:
        q, c, s = line.rstrip("\n").split("\t")
        assert c in corpus, c
        qrels[q][c] = int(s)
ids = [q["_id"] for q in queries]
assert set(ids) == set(qrels), set(ids) ^ set(qrels)
scores = collections.Counter(s for q in qrels.values() for s in q.values())
print(f"corpus passages: {len(corpus)}  pages: {len({c.rsplit('-p', 1)[0] for c in corpus})}")
wc = [len(d["text"].split()) for d in corpus.values()]
print(f"passage words: mean {statistics.mean(wc):.0f}, median {statistics.median(wc)}, "
      f"min {min(wc)}, max {max(wc)}; corpus.jsonl {os.path.getsize(os.path.join(HERE, 'corpus.jsonl'))} bytes")
print(f"queries: {len(queries)}  qrels: {sum(scores.values())}  by score: {dict(sorted(scores.items()))}")
multi = [q for q in ids if len(qrels[q]) > 1]
multi2 = [q for q in ids if sum(1 for s in qrels[q].values() if s == 2) > 1]
print(f"queries with >1 relevant passage: {len(multi)}; with >1 score-2 passage: {len(multi2)}")
print("relevant passages per query:", dict(sorted(collections.Counter(len(qrels[q]) for q in ids).items())))
qlen = [len(q["text"].split()) for q in queries]
print(f"query length (words): mean {statistics.mean(qlen):.1f}, min {min(qlen)}, max {max(qlen)}")
bad = 0
ov_all, ov_2, ov_t = [], [], []
for q in queries:
    rel = qrels[q["_id"]]
    assert 2 in rel.values(), q["_id"]
    qt = tok(q["text"])
    grams = {tuple(qt[i:i + 4]) for i in range(len(qt) - 3)}
    for c in rel:
        pt = tok(corpus[c]["text"])
        if grams & {tuple(pt[i:i + 4]) for i in range(len(pt) - 3)}:
            bad += 1; print("4-gram overlap:", q["_id"], c)
    content = [t for t in qt if t not in STOP]
    def frac(cids):
        u = set()
        for c in cids: u |= set(tok(corpus[c]["text"]))
        return sum(t in u for t in content) / len(content) if content else 0.0
    ov_all.append(frac(rel))
    ov_2.append(frac([c for c, s in rel.items() if s == 2]))
print(f"4-token copies: {bad}")
for name, v in (("all relevant", ov_all), ("score-2 only", ov_2)):
    print(f"lexical overlap ({name}): mean {statistics.mean(v):.2f}, median {statistics.median(v):.2f}, "
          f"min {min(v):.2f}, max {max(v):.2f}")
ent = [v for q, v in zip(ids, ov_all) if q.startswith("e")]
main = [v for q, v in zip(ids, ov_all) if q.startswith("m")]
print(f"  main queries mean {statistics.mean(main):.2f}; entity queries mean {statistics.mean(ent):.2f}")
