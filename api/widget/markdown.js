/**
 * Markdown in answers and previews, drawn safely: the text already in a container (text nodes
 * only, never HTML) is split into <strong>, <em> and <code> elements for **bold**, *emphasis* and
 * `code`; a list item's "- " or "* " becomes a bullet and a heading's "#"s go. Nothing is parsed as
 * HTML and nothing is fetched: a link keeps its words (no href), an image its alt text (never
 * loaded). Buttons and <code> are left as they are drawn (a [n] marker, code).
 *
 *   renderMarkdown(element);   // in place
 */
"use strict";

// One pass over a text: `code` first (nothing inside it is markdown), then links and images,
// then **strong** / __strong__, then *em* / _em_ (not a lone * of arithmetic, not snake_case).
const INLINE = new RegExp(
  [
    "`([^`\\n]+)`",
    "!?\\[([^\\]\\n]+)\\]\\([^)\\s]+\\)",
    "\\*\\*(?=\\S)([^*\\n]+?)\\*\\*",
    "__(?=\\S)([^_\\n]+?)__",
    "(?<![\\w*])\\*(?=[^\\s*])([^*\\n]+?)\\*(?![\\w*])",
    "(?<![\\w_])_(?=[^\\s_])([^_\\n]+?)_(?![\\w_])",
  ].join("|"),
  "g",
);
const LIST_ITEM = /(^|\n)[ \t]*[-*+][ \t]+/g;
const HEADING = /(^|\n)[ \t]*#{1,6}[ \t]+/g;
const SKIP = new Set(["CODE", "BUTTON", "PRE", "TEXTAREA"]);

function inline(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    const [, code, label, strong1, strong2, em1, em2] = match;
    let node;
    if (code !== undefined) {
      node = document.createElement("code");
      node.textContent = code;
    } else if (label !== undefined) {
      node = document.createTextNode(label);
    } else if (strong1 !== undefined || strong2 !== undefined) {
      node = document.createElement("strong");
      node.textContent = strong1 ?? strong2;
    } else {
      node = document.createElement("em");
      node.textContent = em1 ?? em2;
    }
    out.push(node);
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

export function renderMarkdown(container) {
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let p = node.parentNode; p && p !== container; p = p.parentNode) {
        if (SKIP.has(p.nodeName)) return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue.replace(HEADING, "$1").replace(LIST_ITEM, "$1• ");
    const parts = inline(text);
    if (parts.length === 1 && parts[0].nodeType === Node.TEXT_NODE) {
      if (parts[0].nodeValue !== node.nodeValue) node.nodeValue = parts[0].nodeValue;
      continue;
    }
    node.replaceWith(...parts);
  }
}
