/* ragqa chat widget: a cited source in its document. An ES module that widget.js imports from beside
 * itself (served at /widget/source.js; no build step):
 *
 *   const source = await import(`${api}/widget/source.js`);
 *   source.showDocument(detail, citation, quote, { api, collection });
 *
 * When a source chip opens, the document's own text around the cited span is fetched from
 * GET /documents/{doc_id}/text (the text whose offsets citations carry) and shown below the
 * preview, the span in a <mark class="ragqa-quote">. The span is the quoted sentence when the
 * answer has one, else the whole cited passage.
 *
 * The widget's token goes along (a token may read the text of its own collections); where the
 * request is refused or fails, the preview stays as it is. Document text goes into text nodes only, never innerHTML.
 */

const CONTEXT_CHARS = 600; // of the document on each side of the span
let ticket = 0; // a newer chip's fetch wins: a slow answer for an older one is dropped

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The span to mark: the quote's offsets when it has them, else the passage's. */
export function citedSpan(citation, quote) {
  const q = quote || citation.quote;
  if (q && Number.isInteger(q.start) && Number.isInteger(q.end)) return { start: q.start, end: q.end };
  return { start: citation.start, end: citation.end };
}

/** The text route's URL: each segment of the doc_id encoded, its slashes kept (ids like set1/a1.txt). */
export function textUrl(api, citation, span, collection) {
  const path = String(citation.doc_id).split("/").map(encodeURIComponent).join("/");
  const url = new URL(`${api}/documents/${path}/text`);
  if (collection) url.searchParams.set("collection", collection);
  url.searchParams.set("start", String(span.start));
  url.searchParams.set("end", String(span.end));
  url.searchParams.set("context", String(CONTEXT_CHARS));
  return url;
}

/** Appends the document's text around the cited span to ``detail``; true once shown. */
export async function showDocument(detail, citation, quote, { api, collection, headers }) {
  const mine = String(++ticket);
  detail.dataset.sourceTicket = mine;
  const span = citedSpan(citation, quote);
  let body;
  try {
    const response = await fetch(textUrl(api, citation, span, collection), {
      credentials: "omit", headers: { ...(headers || {}), Accept: "application/json" } });
    if (!response.ok) return false;
    body = await response.json();
  } catch {
    return false; // unreachable, or blocked by a CSP: the preview is still there
  }
  if (detail.dataset.sourceTicket !== mine || detail.hidden) return false; // another chip, or closed
  const view = el("div", { class: "source-document", role: "region",
    "aria-label": `${citation.title || citation.doc_id}, in its document` });
  view.append(el("span", { class: "source-document-label" }, `In the document (${citation.doc_id})`));
  const text = el("div", { class: "document-text" });
  const mark = el("mark", { class: "ragqa-quote" }, body.text);
  text.append(body.start - body.before.length > 0 ? "…" : "", body.before, mark, body.after,
    body.end + body.after.length < body.length ? "…" : "");
  view.append(text);
  detail.querySelector(".source-document")?.remove();
  detail.append(view);
  mark.scrollIntoView({ block: "nearest" });
  return true;
}
