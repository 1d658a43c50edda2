#!/usr/bin/env python3
"""Checks and statistics for debian-entities-beir (stdlib only).
- every query's target is in the corpus; every qrels id exists; every query has a 2;
- no query shares a run of 4+ [a-z0-9]+ tokens with the text of any entry judged 2 or 1;
- lexical overlap statistics for README."""
import json, re, statistics, os, collections
here = os.path.dirname(os.path.abspath(__file__))
STOP = set("""i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
yourselves he him his himself she she's her hers herself it it's its itself they them their theirs
themselves what which who whom this that that'll these those am is are was were be been being have has
had having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over under
again further then once here there when where why how all any both each few more most other some such no
nor not only own same so than too very s t can will just don don't should should've now d ll m o re ve
y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn
isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
weren't won won't wouldn wouldn't""".split())
tok = lambda s: re.findall(r"[a-z0-9]+", s.lower())
corpus = {}
for l in open(os.path.join(here, "corpus.jsonl")):
    d = json.loads(l); corpus[d["_id"]] = d
queries = [json.loads(l) for l in open(os.path.join(here, "queries.jsonl"))]
qrels = collections.defaultdict(dict)
lines = open(os.path.join(here, "qrels", "test.tsv")).read().splitlines()
assert lines[0] == "query-id\tcorpus-id\tscore"
for l in lines[1:]:
    q, c, s = l.split("\t"); assert c in corpus, c; qrels[q][c] = int(s)
ok = True
ov, ovt, lens = [], [], []
for q in queries:
    rel = qrels[q["_id"]]
    if 2 not in rel.values(): print("NO 2:", q["_id"]); ok = False
    qt = tok(q["text"]); lens.append(len(q["text"].split()))
    grams = {tuple(qt[i:i+4]) for i in range(len(qt) - 3)}
    for c in rel:
        dt = tok(corpus[c]["text"])
        dg = {tuple(dt[i:i+4]) for i in range(len(dt) - 3)}
        if grams & dg: print("4-GRAM COPY:", q["_id"], c, grams & dg); ok = False
    content = [t for t in qt if t not in STOP]
    union = set()
    for c in rel: union |= set(tok(corpus[c]["text"] + " " + corpus[c]["title"]))
    tgt = [c for c, s in rel.items() if s == 2]
    t2 = set()
    for c in tgt: t2 |= set(tok(corpus[c]["text"] + " " + corpus[c]["title"]))
    if content:
        ov.append(sum(t in union for t in content) / len(content))
        ovt.append(sum(t in t2 for t in content) / len(content))
cnt = collections.Counter(s for r in qrels.values() for s in r.values())
multi = sorted(q for q, r in qrels.items() if len(r) > 1)
multi2 = sorted(q for q, r in qrels.items() if list(r.values()).count(2) > 1)
print("corpus", len(corpus), "queries", len(queries), "qrels", sum(cnt.values()), dict(cnt))
print("words per query: mean %.1f min %d max %d" % (statistics.mean(lens), min(lens), max(lens)))
print("overlap (all relevant): mean %.2f median %.2f min %.2f max %.2f" % (statistics.mean(ov), statistics.median(ov), min(ov), max(ov)))
print("overlap (score-2 entries only): mean %.2f median %.2f" % (statistics.mean(ovt), statistics.median(ovt)))
print("queries with >1 relevant:", len(multi), " ".join(multi))
print("queries with >1 score-2:", len(multi2), " ".join(multi2))
print("relevant-per-query distribution:", sorted(collections.Counter(len(r) for r in qrels.values()).items()))
print("OK" if ok else "PROBLEMS")
