/* ragqa chat widget: an answer's evidence, shown. An ES module that widget.js imports from beside
 * itself (served at /widget/evidence.js; no build step):
 *
 *   const evidence = await import(`${api}/widget/evidence.js`);
 *   detail.replaceChildren(...evidence.sourcePreview(citation, message));
 *
 * - sourcePreview: a cited source's title, where it is, whether it supports a generated answer,
 *   and its passage with the quoted sentence (the exact span of the document that supports the
 *   answer) in a <mark class="ragqa-quote">.
 * - answerNotes: badges saying how the answer was made when it is not what was configured
 *   (`degraded`), and how many of its sentences no source supports.
 * - claimRanges: where each claim (a sentence of the answer) is in its text, so that a [n] opens
 *   source n on the sentence *its* claim quotes (quoteAt), and the sentences no source supports
 *   carry a subtle marker (unsupportedRanges, markUnsupported).
 *
 * - renderMarkdown (from markdown.js): **bold**, *emphasis*, `code` and list bullets drawn as
 *   elements in text already placed, never parsed as HTML.
 *
 * Document text is untrusted: it goes into text nodes only, never through innerHTML.
 */
export { renderMarkdown } from "./markdown.js";

// Python's str.split() whitespace: the server folds a snippet with " ".join(text.split()).
const SPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
// generation/attribution.py's _MARKER: a claim is its sentence without these, trimmed.
const MARKER = /\s*\[(\d{1,3})\]/g;
const UNSUPPORTED_TITLE = "No sentence of the sources clearly supports this";
// Why a self-check replaced a generated answer with the documents' own sentences.
const REPLACED = {
  degenerate_generation: "the generated one repeated itself",
  ungrounded_generation: "the sources did not support the generated one",
  planted_text_in_generation: "the generated one repeated instructions planted in a document",
  unwarranted_refusal: "the model declined, though the documents answer it",
};

/** Runs of whitespace become one space, none at either end (as the server folds snippets). */
export function foldSpace(text) {
  return String(text ?? "").split(SPACE).filter(Boolean).join(" ");
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "supported" or "unsupported" for a source that sentences of a generated answer cite; else null. */
export function supportOf(citation, message) {
  if (message.mode !== "generative" || !Array.isArray(message.claims)) return null;
  const citing = message.claims.filter((claim) => (claim.citations || []).includes(citation.number));
  if (!citing.length) return null;
  return citing.every((claim) => claim.supported) ? "supported" : "unsupported";
}

/** Badges for a finished answer: why it is not the configured kind, and its unsupported sentences. */
export function answerNotes(message) {
  const notes = [];
  if (message.degraded) {
    const badge = el("span", { class: "badge degraded" });
    const down = message.degraded === "llm_timeout" ? "the model timed out" : "the model is unavailable";
    if (message.mode === "extractive") { // quoted sentences stand in for a generated answer
      badge.textContent = "Answered from the documents' own sentences";
      badge.append(el("span", { class: "why" }, `: ${REPLACED[message.degraded] || down}`));
    } else {
      badge.textContent = `Sources only: ${down}`;
    }
    notes.push(badge);
  }
  const weak = (message.claims || []).filter((claim) => claim.supported === false).length;
  if (message.status === "done" && weak && !message.refused) {
    notes.push(el("span", { class: "badge unsupported" },
      `${weak} sentence${weak > 1 ? "s" : ""} not clearly supported by the sources`));
  }
  return notes;
}

/** The preview of source [n], marking `quote` (by default the citation's): nodes for the source-detail panel. */
export function sourcePreview(citation, message, quote = citation.quote) {
  if (!quote || !quote.text) quote = null;
  const where = quote ? `sentence at characters ${quote.start}–${quote.end}` : `characters ${citation.start}–${citation.end}`;
  const meta = [citation.doc_id, citation.location || (citation.page ? `page ${citation.page}` : ""), where].filter(Boolean).join(" · ");
  const nodes = [el("strong", { class: "source-title" }, `[${citation.number}] ${citation.title || citation.doc_id}`),
    el("span", { class: "source-meta" }, meta)];
  const support = supportOf(citation, message);
  if (support === "supported") nodes.push(el("span", { class: "support supported" }, "Supports the answer"));
  if (support === "unsupported") {
    nodes.push(el("span", { class: "support unsupported" }, "May not support the answer: no sentence here clearly says it"));
  }
  const snippet = foldSpace(citation.snippet);
  const needle = quote ? foldSpace(quote.text) : "";
  const at = needle ? snippet.indexOf(needle) : -1;
  const block = el("blockquote", { class: "snippet" });
  if (at < 0) {
    block.textContent = snippet;
  } else {
    block.append(snippet.slice(0, at), el("mark", { class: "ragqa-quote" }, needle), snippet.slice(at + needle.length));
  }
  nodes.push(block);
  if (needle && at < 0) { // the preview does not hold it (an older answer): the sentence, below
    const below = el("p", { class: "quote" });
    below.append(el("span", { class: "quote-label" }, "Supporting sentence: "), el("mark", { class: "ragqa-quote" }, needle));
    nodes.push(below);
  }
  return nodes;
}

/** Where each claim is in `text`, in order: {start, end, claim}, `end` past its last character. */
export function claimRanges(text, claims) {
  if (!Array.isArray(claims) || !claims.length) return [];
  // The text without its [n] markers (as claims are), and where each of its characters sits in `text`.
  let plain = "";
  let last = 0;
  const origin = [];
  const keep = (end) => {
    for (let i = last; i < end; i++) origin.push(i);
    plain += text.slice(last, end);
  };
  for (const match of text.matchAll(MARKER)) {
    keep(match.index);
    last = match.index + match[0].length;
  }
  keep(text.length);
  const ranges = [];
  let from = 0;
  for (const claim of claims) { // claims come in the order of the answer's sentences
    if (!claim || !claim.text) continue;
    const found = plain.indexOf(claim.text, from);
    if (found < 0) continue;
    from = found + claim.text.length;
    ranges.push({ start: origin[found], end: origin[from - 1] + 1, claim });
  }
  return ranges;
}

/** [start, end) ranges of the claims that no source supports. */
export function unsupportedRanges(ranges) {
  return ranges.filter((r) => r.claim.supported === false).map((r) => [r.start, r.end]);
}

/** The quote of source `number` for the [n] at `offset`: its sentence's own (the last claim begun before it). */
export function quoteAt(ranges, offset, number) {
  let owner = null;
  for (const range of ranges) {
    if (range.start > offset) break;
    owner = range;
  }
  const quote = owner && owner.claim.quote;
  return quote && quote.number === number ? quote : null;
}

/** Nodes for `part` (the text at `offset` of the answer), unsupported ranges in a marked span. */
export function markUnsupported(part, offset, ranges) {
  const nodes = [];
  let pos = 0;
  for (const [start, end] of ranges) {
    const from = Math.max(start - offset, pos), to = Math.min(end - offset, part.length);
    if (to <= from) continue;
    if (from > pos) nodes.push(part.slice(pos, from));
    nodes.push(el("span", { class: "claim-unsupported", title: UNSUPPORTED_TITLE }, part.slice(from, to)));
    pos = to;
  }
  if (pos < part.length) nodes.push(part.slice(pos));
  return nodes;
}
