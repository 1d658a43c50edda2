#!/usr/bin/env python3
"""Validate queries.jsonl / qrels/test.tsv against corpus.jsonl and print statistics.

Checks: every query has 4-16 words and at least one score-2 judgment; every judged id
exists; no run of 4 consecutive [a-z0-9]+ tokens of a query occurs in any of its relevant
passages.  Prints counts, score distribution and lexical overlap (fraction of the query's
non-stopword tokens found in the union of its relevant passages' tokens).
"""
import collections
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# NLTK English stopword list (179 words), inlined
STOP = set("""i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
yourselves he him his himself she she's her hers herself it it's its itself they them their theirs
themselves what which who whom this that that'll these those am is are was were be been being have has
had having do does did doing a an the and but if or because as until while of at by for with about
against between into through during before after above below to from up down in out on off over under
again further then once here there when where why how all any both each few more most other some such
no nor not only own same so than too very s t can will just don don't should should've now d ll m o re
ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn
isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
weren't won won't wouldn wouldn't""".split())


def toks(s):
    return re.findall(r'[a-z0-9]+', s.lower())


def main():
    corpus = {}
    with open(os.path.join(HERE, 'corpus.jsonl'), encoding='utf-8') as f:
        for line in f:
            d = json.loads(line)
            corpus[d['_id']] = d
    queries = [json.loads(l) for l in open(os.path.join(HERE, 'queries.jsonl'), encoding='utf-8')]
    qrels = collections.defaultdict(dict)
    with open(os.path.join(HERE, 'qrels', 'test.tsv'), encoding='utf-8') as f:
        assert f.readline().rstrip('\n') == 'query-id\tcorpus-id\tscore'
        for line in f:
            q, d, s = line.rstrip('\n').split('\t')
            qrels[q][d] = int(s)
    errors = []
    qids = [q['_id'] for q in queries]
    if len(set(qids)) != len(qids):
        errors.append('duplicate query ids')
    if set(qrels) != set(qids):
        errors.append('qrels/query id mismatch')
    overlaps, overlaps_t, nwords, named = [], [], [], 0
    for q in queries:
        qt = toks(q['text'])
        nwords.append(len(q['text'].split()))
        if not 4 <= len(q['text'].split()) <= 16:
            errors.append(f"{q['_id']}: {len(q['text'].split())} words")
        rel = qrels[q['_id']]
        if 2 not in rel.values():
            errors.append(f"{q['_id']}: no score-2 passage")
        union = set()
        for d in rel:
            if d not in corpus:
                errors.append(f"{q['_id']}: unknown id {d}")
                continue
            pt = toks(corpus[d]['text'])
            union |= set(pt)
            grams = {tuple(pt[i:i + 4]) for i in range(len(pt) - 3)}
            for i in range(len(qt) - 3):
                if tuple(qt[i:i + 4]) in grams:
                    errors.append(f"{q['_id']}: shares 4-gram {' '.join(qt[i:i+4])!r} with {d}")
        content = [t for t in qt if t not in STOP]
        if content:
            overlaps.append(sum(t in union for t in content) / len(content))
    n_by = collections.Counter(s for r in qrels.values() for s in r.values())
    multi = sorted(q for q, r in qrels.items() if len(r) > 1)
    print(f'corpus: {len(corpus)} passages; queries: {len(queries)} '
          f'(words min {min(nwords)} max {max(nwords)} mean {statistics.mean(nwords):.1f})')
    print(f'qrels: {sum(n_by.values())} (score 2: {n_by[2]}, score 1: {n_by[1]})')
    print(f'queries with >1 judged passage: {len(multi)}: {", ".join(multi)}')
    multi2 = sorted(q for q, r in qrels.items() if sum(v == 2 for v in r.values()) > 1)
    print(f'queries with >1 score-2 passage: {len(multi2)}: {", ".join(multi2)}')
    print(f'lexical overlap vs union of relevant passages: mean {statistics.mean(overlaps):.2f} '
          f'median {statistics.median(overlaps):.2f} min {min(overlaps):.2f} max {max(overlaps):.2f}')
    if errors:
        print('ERRORS:\n  ' + '\n  '.join(errors))
        sys.exit(1)
    print('all checks passed')


if __name__ == '__main__':
    main()
