/* ragqa chat widget: one script tag, no build step.
 *
 *   <script src="https://HOST/widget.js" data-collection="docs" data-token="pk_..." async></script>
 *
 * Optional attributes: data-api (the API's base URL; default: the folder this script came from),
 * data-title, data-placeholder, data-position ("right" or "left").
 * JS API: window.RagqaWidget.open(), .close(), .ask(question), .reset().
 *
 * The panel lives in a Shadow DOM, so the page's CSS cannot reach it and its CSS cannot leak out.
 * Answers stream from POST /chat as server-sent events, read with fetch + ReadableStream
 * (EventSource cannot POST); the final event's text is authoritative (a self-check may have
 * replaced what streamed). Every piece of server text is set with textContent, never parsed
 * as HTML: a document holding markup shows the markup, it does not run it.
 * A source's preview, with the quoted sentence marked, comes from evidence.js (a module this
 * script imports from beside itself); until it arrives, or if it cannot, sources show as text.
 * The cited span in its document's text comes from source.js, imported the same way.
 * The first source a reader opens in an answer, and a copy of its text, are reported to POST /events
 * (once per answer each): a live experiment compares its arms on them. Each chat has a random id,
 * sent as conversation_id, so an experiment keeps the conversation in one arm.
 */
(() => {
  "use strict";
  if (window.RagqaWidget) return; // the tag twice on a page: keep the first
  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script) return;

  const opts = script.dataset;
  const api = (opts.api || new URL(".", script.src).href).replace(/\/+$/, "");
  const collection = opts.collection || "";
  const token = opts.token || "";
  const title = opts.title || "Ask the docs";
  const storeKey = `ragqa-widget:v1:${api}:${collection}`;
  const MAX_STORED = 60; // messages kept in sessionStorage
  const HISTORY_TURNS = 12; // earlier messages sent with a question, so follow-ups make sense
  let maxChars = 2000; // the server's guardrails.max_question_chars, from /widget/config

  const THUMB_UP = "M2 21h4V9H2zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.5-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10"
    + "a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7c.1-.3.2-.5.2-.8z";
  const THUMB_DOWN = "M16 3H7c-.8 0-1.5.5-1.8 1.2l-3 7c-.1.3-.2.5-.2.8v2a2 2 0 0 0 2 2h6.3l-1 4.6v.3c0 .4.2.8.5 1.1"
    + "l1.1 1 6.6-6.6c.4-.4.5-.9.5-1.4V5a2 2 0 0 0-2-2zm4 0v12h4V3z";
  let evidence = null; // the evidence.js module, once loaded
  let sourceView = null; // the source.js module, once loaded
  let uid = 0;
  const nextId = (prefix) => `ragqa-${prefix}-${++uid}`;
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function icon(path) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.append(p);
    return svg;
  }

  // ---- state: the conversation, kept for the page session (this tab) ----
  const state = load();
  let busy = null; // {controller, reply} while an answer streams
  let configCheck = null; // the /widget/config promise, once per page
  let blocked = false;

  function load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(storeKey) || "null");
      if (saved && Array.isArray(saved.messages)) {
        for (const m of saved.messages) if (m.status === "streaming") m.status = "stopped"; // the page left mid-answer
        if (!saved.conversation) saved.conversation = newConversation();
        return saved;
      }
    } catch (_) { /* storage blocked or corrupt: start afresh */ }
    return { messages: [], open: false, conversation: newConversation() };
  }
  function newConversation() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }
  function save() {
    state.messages = state.messages.slice(-MAX_STORED);
    try { sessionStorage.setItem(storeKey, JSON.stringify(state)); } catch (_) { /* full or blocked */ }
  }

  // ---- the DOM, inside a shadow root ----
  const host = document.createElement("ragqa-widget");
  host.style.setProperty("all", "initial");
  const root = host.attachShadow({ mode: "open" });
  const wrap = el("div", { class: `wrap ${opts.position === "left" ? "left" : "right"}`, hidden: "" });
  const sheet = el("link", { rel: "stylesheet", href: `${api}/widget.css` });
  const reveal = () => { wrap.hidden = false; }; // no flash of unstyled widget
  sheet.addEventListener("load", reveal);
  sheet.addEventListener("error", reveal);

  const launcher = el("button", { type: "button", class: "launcher", "aria-haspopup": "dialog",
    "aria-expanded": "false", "aria-controls": "ragqa-panel", "aria-label": `Open chat: ${title}` });
  launcher.append(icon("M4 4h16v11H7l-3 3zM8 8h8v2H8zm0 3h5v2H8z"));

  const panel = el("div", { id: "ragqa-panel", class: "panel", role: "dialog", "aria-modal": "true",
    "aria-labelledby": "ragqa-title", hidden: "" });
  const header = el("header");
  const resetButton = el("button", { type: "button", class: "reset", "aria-label": "Start a new conversation" }, "New chat");
  const closeButton = el("button", { type: "button", class: "close", "aria-label": "Close chat" });
  closeButton.append(icon("M6 5l6 6 6-6 1 1-6 6 6 6-1 1-6-6-6 6-1-1 6-6-6-6z"));
  header.append(el("h2", { id: "ragqa-title" }, title), resetButton, closeButton);
  const banner = el("div", { class: "banner", role: "alert", hidden: "" });
  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: "0" });
  const hint = el("p", { class: "hint" }, "Ask a question: answers come from the documents, with their sources.");
  const form = el("form", { class: "ask" });
  const input = el("textarea", { class: "question", rows: "1", "aria-label": "Your question", maxlength: String(maxChars),
    placeholder: opts.placeholder || "Ask a question…" });
  const sendButton = el("button", { type: "submit", class: "send", "aria-label": "Send" });
  sendButton.append(icon("M3 20l18-8L3 4v6l12 2-12 2z"));
  const stopButton = el("button", { type: "button", class: "stop", "aria-label": "Stop answering", hidden: "" });
  stopButton.append(icon("M7 7h10v10H7z"));
  form.append(input, sendButton, stopButton);
  panel.append(header, banner, log, form);
  wrap.append(launcher, panel);
  root.append(sheet, wrap);

  // ---- rendering: text nodes and elements only ----
  function renderAll() {
    log.replaceChildren();
    if (!state.messages.length) log.append(hint);
    for (const m of state.messages) log.append(renderMessage(m));
  }
  // A message's elements live beside it (not in it): the message itself is saved as JSON.
  const views = new WeakMap();
  function renderMessage(m) {
    const node = el("div", { class: `msg ${m.role === "user" ? "user" : "bot"}` });
    views.set(m, { node });
    fillMessage(m);
    return node;
  }
  function fillMessage(m) {
    const view = views.get(m);
    if (!view) return;
    const node = view.node;
    node.replaceChildren();
    if (m.role === "user") {
      node.append(el("div", { class: "bubble" }, m.text));
      return;
    }
    node.dataset.status = m.status;
    node.dataset.refused = String(Boolean(m.refused));
    node.classList.toggle("refused", Boolean(m.refused));
    node.dataset.confidence = m.confidence || "";
    node.classList.toggle("low-confidence", m.confidence === "low");
    node.classList.toggle("error", m.status === "error");
    node.setAttribute("aria-busy", String(m.status === "streaming"));
    if (m.status === "error") {
      node.setAttribute("role", "alert");
      const bubble = el("div", { class: "bubble" }, m.error.message);
      bubble.append(el("span", { class: "code" }, ` (${m.error.code})`));
      node.append(bubble);
      return;
    }
    const bubble = el("div", { class: "bubble" });
    const text = el("p", { class: "text" });
    bubble.append(text);
    bubble.addEventListener("copy", () => sendEvent(m, "copy"));
    node.append(bubble);
    if (m.status === "streaming" && !m.text) {
      const typing = el("span", { class: "typing", role: "status" });
      typing.append(el("span", { class: "sr-only" }, "Answering…"), el("i"), el("i"), el("i"));
      text.append(typing);
    } else if (m.status === "done") {
      fillAnswerText(text, m);
    } else {
      text.textContent = m.text;
    }
    view.text = text;
    if (m.refused) node.append(el("span", { class: "badge refused" }, "Not found in the documents"));
    if (m.status === "done" && m.confidence === "low") {
      node.append(el("span", { class: "badge low-confidence" }, "May not answer this directly"));
    }
    if (evidence) node.append(...evidence.answerNotes(m)); // how it was made, what it rests on
    else if (m.degraded) node.append(el("span", { class: "badge degraded" }, "Not a generated answer"));
    if (m.status === "stopped") node.append(el("span", { class: "badge stopped" }, "Stopped"));
    if (m.status === "done" && m.citations && m.citations.length) node.append(renderSources(m));
    if (m.status === "done" && m.answer_id) node.append(renderFeedback(m));
  }
  // "[2]" markers in the answer become buttons that open source 2 (when the answer has one);
  // sentences no source supports carry a marker (evidence.js).
  function fillAnswerText(target, m) {
    const numbers = new Set((m.citations || []).map((c) => c.number));
    const claims = evidence ? evidence.claimRanges(m.text, m.claims) : [];
    const weak = evidence ? evidence.unsupportedRanges(claims) : [];
    let offset = 0;
    for (const part of m.text.split(/(\[\d+\])/)) {
      const marker = /^\[(\d+)\]$/.exec(part);
      if (marker && numbers.has(Number(marker[1]))) {
        const n = Number(marker[1]), quote = evidence && evidence.quoteAt(claims, offset, n);
        const ref = el("button", { type: "button", class: "ref", "aria-label": `Show source ${n}` }, marker[1]);
        ref.addEventListener("click", () => toggleSource(m, n, true, quote || undefined));
        target.append(ref);
      } else if (part) {
        target.append(...(weak.length ? evidence.markUnsupported(part, offset, weak) : [part]));
      }
      offset += part.length;
    }
    if (evidence) evidence.renderMarkdown(target); // **bold**, `code`, bullets: as elements, never as HTML
  }
  function renderSources(m) {
    const box = el("div", { class: "sources-box" });
    const chips = el("div", { class: "sources", role: "group", "aria-label": "Sources" });
    chips.append(el("span", { class: "sources-label", "aria-hidden": "true" }, "Sources"));
    const detail = el("div", { class: "source-detail", id: nextId("source"), hidden: "" });
    const view = views.get(m);
    view.chips = new Map();
    view.detail = detail;
    for (const c of m.citations) {
      const chip = el("button", { type: "button", class: "chip", "aria-expanded": "false", "aria-controls": detail.id,
        "aria-label": `Source ${c.number}: ${c.title || c.doc_id}` }, String(c.number));
      chip.addEventListener("click", () => toggleSource(m, c.number));
      view.chips.set(c.number, chip);
      chips.append(chip);
    }
    box.append(chips, detail);
    return box;
  }
  function toggleSource(m, number, forceOpen, quote) { // quote: the sentence to mark, when a [n] knows it
    const view = views.get(m);
    const c = m.citations.find((x) => x.number === number);
    const chip = view && view.chips && view.chips.get(number);
    if (!c || !chip) return;
    const open = forceOpen || chip.getAttribute("aria-expanded") !== "true";
    for (const other of view.chips.values()) other.setAttribute("aria-expanded", "false");
    view.detail.hidden = !open;
    if (!open) return;
    sendEvent(m, "citation_open", number);
    chip.setAttribute("aria-expanded", "true");
    view.detail.replaceChildren(...(evidence ? evidence.sourcePreview(c, m, quote) : plainPreview(c)));
    if (evidence) evidence.renderMarkdown(view.detail);
    if (sourceView) sourceView.showDocument(view.detail, c, quote, { api, collection, headers: headers() });
    view.detail.scrollIntoView({ block: "nearest" });
  }
  function plainPreview(c) {
    const meta = [c.doc_id, c.location || (c.page ? `page ${c.page}` : ""), `characters ${c.start}–${c.end}`].filter(Boolean).join(" · ");
    return [el("strong", { class: "source-title" }, `[${c.number}] ${c.title || c.doc_id}`),
      el("span", { class: "source-meta" }, meta), el("blockquote", { class: "snippet" }, c.snippet)];
  }
  function renderFeedback(m) {
    const box = el("div", { class: "feedback", role: "group", "aria-label": "Was this answer helpful?" });
    for (const [rating, label, path] of [["up", "Helpful", THUMB_UP], ["down", "Not helpful", THUMB_DOWN]]) {
      const b = el("button", { type: "button", "aria-label": label, "aria-pressed": String(m.rating === rating) });
      b.append(icon(path));
      b.addEventListener("click", () => sendFeedback(m, rating));
      box.append(b);
    }
    return box;
  }
  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  // ---- talking to the API ----
  class WidgetError extends Error {
    constructor(message, code) { super(message); this.code = code; }
  }
  function headers(extra) {
    const h = { "Content-Type": "application/json", ...extra };
    if (token) h["X-Widget-Token"] = token;
    return h;
  }
  async function errorFrom(response) {
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: a proxy's page */ }
    const err = body && body.error;
    let message = (err && err.message) || `The service answered HTTP ${response.status}.`;
    const retry = response.headers.get("Retry-After");
    if (response.status === 429 && retry) message += ` Try again in ${retry} s.`;
    return new WidgetError(message, (err && err.code) || `http_${response.status}`);
  }
  function describe(error) {
    if (error instanceof WidgetError) return { message: error.message, code: error.code };
    if (error instanceof TypeError) { // what fetch throws for a network failure or a refused CORS check
      return { message: `Can't reach the chat service at ${new URL(api).host}. Check your connection and try again.`,
        code: "network_error" };
    }
    return { message: "The answer could not be read.", code: "client_error" };
  }

  function checkConfig() {
    if (configCheck) return configCheck;
    const url = new URL(`${api}/widget/config`);
    if (token) url.searchParams.set("token", token);
    if (collection) url.searchParams.set("collection", collection);
    configCheck = fetch(url, { credentials: "omit" }).then(async (response) => {
      if (!response.ok) {
        block(describe(await errorFrom(response)));
        return;
      }
      const config = await response.json();
      maxChars = config.max_question_chars || maxChars;
      input.maxLength = maxChars;
    }).catch(() => { configCheck = null; }); // unreachable now: the question itself will say so
    return configCheck;
  }
  function block(error) {
    blocked = true;
    banner.replaceChildren(el("strong", {}, "This chat is unavailable here: "), document.createTextNode(error.message),
      el("span", { class: "code" }, ` (${error.code})`));
    banner.hidden = false;
    input.disabled = true;
    sendButton.disabled = true;
  }

  function historyTurns() {
    const turns = [];
    for (let i = 0; i + 1 < state.messages.length; i++) {
      const q = state.messages[i], a = state.messages[i + 1];
      if (q.role === "user" && a.role === "assistant" && a.status === "done") {
        turns.push({ role: "user", content: q.text }, { role: "assistant", content: a.text });
      }
    }
    return turns.slice(-HISTORY_TURNS);
  }

  async function ask(raw) {
    const question = String(raw || "").trim();
    if (!question || busy) return;
    openPanel(true);
    await checkConfig();
    if (blocked || busy) return; // a second question while the first was being checked
    if (question.length > maxChars) {
      addError({ message: `Questions are limited to ${maxChars} characters.`, code: "question_too_long" });
      return;
    }
    const messages = [...historyTurns(), { role: "user", content: question }];
    const reply = { role: "assistant", text: "", status: "streaming", citations: [] };
    state.messages.push({ role: "user", text: question }, reply);
    if (hint.isConnected) hint.remove();
    log.append(renderMessage(state.messages[state.messages.length - 2]), renderMessage(reply));
    scrollToEnd();
    save();
    const controller = new AbortController();
    busy = { controller, reply };
    setBusy(true);
    try {
      const body = { messages, stream: true, conversation_id: state.conversation };
      if (collection) body.collection = collection;
      const response = await fetch(`${api}/chat`, { method: "POST", headers: headers({ Accept: "text/event-stream" }),
        body: JSON.stringify(body), signal: controller.signal, credentials: "omit" });
      if (!response.ok) throw await errorFrom(response);
      await readEvents(response.body, (event, data) => onEvent(reply, event, data));
      if (reply.status === "streaming") throw new WidgetError("The answer ended before it was complete.", "incomplete");
    } catch (error) {
      if (error && error.name === "AbortError") reply.status = "stopped";
      else { reply.status = "error"; reply.error = describe(error); }
    } finally {
      busy = null;
      setBusy(false);
      fillMessage(reply);
      scrollToEnd();
      save();
    }
  }
  function onEvent(reply, event, data) {
    if (event === "delta") {
      const target = views.get(reply).text;
      if (!reply.text) target.replaceChildren(); // the typing indicator goes
      reply.text += data.text;
      target.append(document.createTextNode(data.text));
      scrollToEnd();
    } else if (event === "done") {
      // data.text replaces what streamed: it differs when the self-check answered from the evidence instead.
      Object.assign(reply, { text: data.text, citations: data.citations || [], refused: Boolean(data.refused),
        confidence: data.confidence || (data.refused ? "none" : "high"),
        degraded: data.degraded || null, mode: data.mode || null, claims: data.claims || [],
        grounded: data.grounded ?? null, answer_id: data.answer_id, status: "done" });
    } else if (event === "error") {
      const err = (data && data.error) || {};
      throw new WidgetError(err.message || "The answer failed.", err.code || "error");
    }
  }
  // Server-sent events, line by line: "event:" and "data:" fields, a blank line ends a frame,
  // ":" lines are pings. Lines may end in \r\n (sse-starlette's default), \n or \r.
  async function readEvents(stream, onFrame) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let buffer = "", event = "message", data = [];
    const dispatch = () => {
      if (data.length) onFrame(event, JSON.parse(data.join("\n")));
      event = "message";
      data = [];
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
        let match;
        while ((match = /\r\n|\r|\n/.exec(buffer))) {
          if (!done && match[0] === "\r" && match.index === buffer.length - 1) break; // half of a \r\n
          const line = buffer.slice(0, match.index);
          buffer = buffer.slice(match.index + match[0].length);
          if (line === "") { dispatch(); continue; }
          if (line[0] === ":") continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = val;
          else if (field === "data") data.push(val);
        }
        if (done) { dispatch(); return; }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
  async function sendFeedback(m, rating) {
    try {
      const response = await fetch(`${api}/feedback`, { method: "POST", headers: headers(), credentials: "omit",
        body: JSON.stringify({ answer_id: m.answer_id, rating }) });
      if (!response.ok) throw await errorFrom(response);
      m.rating = rating;
      fillMessage(m);
      save();
    } catch (error) {
      addError(describe(error));
    }
  }
  // What the reader did with an answer, once per answer and kind; a failure is not the reader's concern.
  function sendEvent(m, kind, number) {
    if (m.status !== "done" || !m.answer_id) return;
    m.reported = m.reported || {};
    if (m.reported[kind]) return;
    m.reported[kind] = true;
    save();
    const body = { answer_id: m.answer_id, kind };
    if (number) body.number = number;
    fetch(`${api}/events`, { method: "POST", headers: headers(), credentials: "omit", keepalive: true,
      body: JSON.stringify(body) }).catch(() => {});
  }
  function addError(error) {
    const m = { role: "assistant", status: "error", error, text: "" };
    state.messages.push(m);
    log.append(renderMessage(m));
    scrollToEnd();
    save();
  }
  function setBusy(on) {
    sendButton.hidden = on;
    stopButton.hidden = !on;
    if (on) stopButton.focus();
    else if (!panel.hidden) input.focus();
  }

  // ---- opening, closing, keyboard ----
  function openPanel(focus) {
    if (panel.hidden) {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      launcher.setAttribute("aria-label", "Close chat");
      state.open = true;
      save();
      checkConfig();
      scrollToEnd();
    }
    if (focus) input.focus();
  }
  function closePanel() {
    if (panel.hidden) return;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", `Open chat: ${title}`);
    state.open = false;
    save();
    launcher.focus(); // focus goes back where the panel came from
  }
  function reset() {
    if (busy) busy.controller.abort();
    state.messages = [];
    state.conversation = newConversation();
    save();
    renderAll();
    input.focus();
  }
  function focusables() {
    return [...panel.querySelectorAll("button, textarea, [tabindex]")]
      .filter((n) => !n.disabled && n.tabIndex >= 0 && n.getClientRects().length > 0);
  }

  launcher.addEventListener("click", () => (panel.hidden ? openPanel(true) : closePanel()));
  closeButton.addEventListener("click", closePanel);
  resetButton.addEventListener("click", reset);
  stopButton.addEventListener("click", () => busy && busy.controller.abort());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    if (!question.trim() || busy) return;
    input.value = "";
    input.style.height = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", () => {
    input.style.height = "";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  });
  // Esc closes; Tab and Shift+Tab cycle inside the open panel (a modal dialog's focus trap).
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
      return;
    }
    if (event.key !== "Tab") return;
    const items = focusables();
    if (!items.length) return;
    const first = items[0], last = items[items.length - 1], active = root.activeElement;
    if (event.shiftKey && (active === first || !items.includes(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !items.includes(active))) {
      event.preventDefault();
      first.focus();
    }
  });

  renderAll();
  // Answers restored from this tab's session are drawn again once the module is here, with their evidence.
  import(`${api}/widget/evidence.js`).then((module) => {
    evidence = module;
    host.dataset.evidence = "ready";
    if (state.messages.some((m) => m.status === "done" && m.role === "assistant")) renderAll();
  }).catch(() => { host.dataset.evidence = "unavailable"; }); // a CSP, or unreachable: sources show as text
  import(`${api}/widget/source.js`).then((module) => { sourceView = module; host.dataset.sourceView = "ready"; })
    .catch(() => { host.dataset.sourceView = "unavailable"; }); // sources show their preview only
  const mount = () => {
    document.body.append(host);
    if (state.open) openPanel(false); // reopened after a navigation, without taking the page's focus
  };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.RagqaWidget = { open: () => openPanel(true), close: closePanel, ask, reset };
})();
