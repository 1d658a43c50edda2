"""Personal data masking: e-mail addresses, phone numbers, payment cards and IBANs become placeholders.

Used at ingestion (``ingest.mask_pii``: the parsed text is masked before it is chunked, so no index,
cache or answer ever holds it) and in logs (the same setting: every string of a log event). Each
kind is one compiled pattern and one pass; a candidate is masked only when it passes its check:

- ``[email]``: ``local@domain.tld`` (a local part of at most 64 characters, a letter TLD);
- ``[iban]``: two capitals, two check digits and the BBAN, compact or in groups of four, masked
  only when its length is its country's and the ISO 13616 mod-97 check gives 1;
- ``[card]``: 13 to 19 digits starting 2 to 6 (Visa, Mastercard, Amex, Discover, JCB, UnionPay,
  Maestro), contiguous or in the printed groups (4-4-4-4[-1..3], 4-6-4/5), masked only when the
  Luhn check passes. ISBNs (978...), millisecond timestamps (1...) and EANs starting 0, 1, 7-9
  never qualify;
- ``[phone]``: 7 to 15 digits in a shape only a phone number has: ``+`` and a country code; an
  area code in parentheses (``(555)``, ``(020)``, never a year); North American ``555-123-4567``;
  a trunk ``0`` and one separator kind, 9 to 12 digits (``030 12345678``, ``06 12 34 56 78``); or
  any digits after a label (``Tel:``, ``Phone``, ``Fax``, ``Mobile``...).

Kept clear on purpose (conservative: a missed number is better than a mangled document): dates
and times (``2024-01-15``, ``15.01.2024``, ``01/02/2024``, ``10:30``), amounts (``1,250.00``,
``1 250 000``), versions and IP addresses (``1.2.3``, ``192.168.100.200``), postcodes (``75008``,
``12345-6789``), year ranges (``1999-2004``), bare digit runs (``4471123456``: an order number
as often as a phone number) and numbers glued to a word, ``#`` or a currency sign.

    >>> mask_pii("Write to ana.silva@example.org or call +44 20 7946 0958.").text
    'Write to [email] or call [phone].'
    >>> mask_pii("Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00.").text
    'Card [card], IBAN [iban].'
    >>> mask_pii("Card 4111 1111 1111 1112 (Luhn fails), on 2024-01-15 at 10:30, EUR 1,250.00").text
    'Card 4111 1111 1111 1112 (Luhn fails), on 2024-01-15 at 10:30, EUR 1,250.00'

Masking changes lengths; ``Masked.position`` moves an offset of the original text (a page's
start) to the same place in the masked one:

    >>> masked = mask_pii("a@b.example\\n\\nPage two")
    >>> masked.text, masked.position(13), masked.text[masked.position(13):]
    ('[email]\\n\\nPage two', 9, 'Page two')
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field

# The length of an IBAN in each country that issues them (SWIFT's IBAN registry).
_IBAN_LENGTHS = {country: int(length) for country, length in re.findall(r"([A-Z]{2})(\d\d)", (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 "
    "DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 IE22 IL23 "
    "IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 "
    "MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 "
    "SK24 SM27 SO23 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30"
))}

_EMAIL = re.compile(
    # The lookbehind starts a match only where a run of address characters starts (linear time on
    # a long run); the lookahead keeps "a@b.com-x" and "a@b.co.uk" whole or not at all.
    # A local part starts with a letter or digit ("-X@exclude.lst" is a tar option); a systemd unit
    # ("getty@tty1.service") is no mailbox.
    r"(?<![\w.%+-])[^\W_][\w.%+-]{0,63}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+"
    r"(?!(?:service|socket|target|timer|mount|automount|slice|path|scope|swap|device)(?![\w-]))"
    r"[^\W\d_]{2,63}(?![\w-]|\.[^\W_])"
)
_IBAN = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)")
# Digits not glued to a word, a sign, a decimal point, a date or another group of digits.
_NUMBER_START = r"(?<![\w.,:;/+#$€£¥%-])(?<!\d[ .-])"
_NUMBER_END = r"(?![\w%]|[ .,:/-]?\d)"
_CARD = re.compile(_NUMBER_START + r"""(?:
      [2-6]\d{12,18}
    | [2-6]\d{3}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{1,3})?
    | [2-6]\d{3}(?P<t>[ -])\d{6}(?P=t)\d{4,5}
    )""" + _NUMBER_END, re.VERBOSE)
_PHONE_LABEL = (r"(?i:\b(?:tel(?:ephone)?|t[ée]l[ée]phone|telefon|phone(?:[ ]?(?:number|no\.?))?|mobile|"
                r"cell[ -]?phone|fax|handy|m[óo]vil|gsm)\b)\.?[ \t]*(?:\([A-Za-z ]{1,20}\)[ \t]*)?[:=]?[ \t]*")
# Digit runs are possessive (``\d++``) and separators required between them, so a long run of
# digits is never re-split group by group when it fails: time stays linear.
_PHONE = re.compile(r"""(?=[\d+(TtPpMmCcFfHhGg])  # what a match can start with: a quick skip elsewhere
    (?:""" + _PHONE_LABEL + r"""(?P<labelled>\+?\(?\d[\d ()./-]{4,22}\d)
  | """ + _NUMBER_START + r"""(?P<bare>
      (?P<intl>(?:\+|00(?=[1-9]))\d++(?:[ .-]?\(0?\d{1,4}\)[ .-]?\d++)?(?:[ .-]\d++){0,6})
    | \((?:[2-9]\d{2}|0\d{1,4})\)[ .-]?\d++(?:[ .-]\d++){0,3}
    | (?:1[ .-])?[2-9]\d{2}(?P<n>[ .-])\d{3}(?P=n)\d{4}
    | (?P<trunk>0[1-9]\d{0,4}[ /-]\d{2,}+(?:(?P<r>[ -])\d{2,}+(?:(?P=r)\d{2,}+){0,2})?)
    | 0[1-9](?:\.\d{2}){4}
    )""" + _NUMBER_END + ")", re.VERBOSE)
_DIGITS = re.compile(r"\d+")
_MAY_HOLD = re.compile(r"[\d@]")


@dataclass(frozen=True, slots=True)
class Masked:
    """A masked text, with the spans of the original that were replaced: ``(start, end, placeholder)``."""

    text: str
    spans: tuple[tuple[int, int, str], ...] = ()
    _ends: list[int] = field(default_factory=list, init=False, repr=False, compare=False)
    _shifts: list[int] = field(default_factory=list, init=False, repr=False, compare=False)  # after each span

    def __post_init__(self) -> None:
        shift = 0
        for start, end, placeholder in self.spans:
            shift += len(placeholder) - (end - start)
            self._ends.append(end)
            self._shifts.append(shift)

    def position(self, offset: int) -> int:
        """Where ``offset`` of the original text is in the masked text; inside a masked span: the
        start of its placeholder."""
        done = bisect_right(self._ends, offset)  # spans that end at or before offset
        shift = self._shifts[done - 1] if done else 0
        if done < len(self.spans) and self.spans[done][0] < offset:
            return self.spans[done][0] + shift
        return offset + shift


def mask_pii(text: str) -> Masked:
    """``text`` with e-mail addresses, IBANs, card numbers and phone numbers replaced (in that
    order of precedence where two overlap) by ``[email]``, ``[iban]``, ``[card]`` and ``[phone]``."""
    if not _MAY_HOLD.search(text):
        return Masked(text)
    taken: list[tuple[int, int, str]] = []
    if "@" in text:
        _take(taken, ((m.start(), m.end()) for m in _EMAIL.finditer(text)), "[email]")
    _take(taken, (span for m in _IBAN.finditer(text) if (span := _iban_span(m)) is not None), "[iban]")
    _take(taken, (m.span() for m in _CARD.finditer(text) if luhn_valid(m.group())), "[card]")
    _take(taken, (span for m in _PHONE.finditer(text) if (span := _phone_span(m)) is not None), "[phone]")
    if not taken:
        return Masked(text)
    pieces, cursor = [], 0
    for start, end, placeholder in taken:
        pieces += [text[cursor:start], placeholder]
        cursor = end
    pieces.append(text[cursor:])
    return Masked("".join(pieces), tuple(taken))


def iban_valid(iban: str) -> bool:
    """The ISO 13616 check of an IBAN (its country's length, then mod 97 == 1); spaces are ignored.

    >>> iban_valid("GB82 WEST 1234 5698 7654 32"), iban_valid("GB82 WEST 1234 5698 7654 33")
    (True, False)
    """
    compact = iban.replace(" ", "")
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isascii() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged.upper())) % 97 == 1


def _take(taken: list[tuple[int, int, str]], spans: Iterable[tuple[int, int]], placeholder: str) -> None:
    """Adds each span that overlaps none already taken (``taken`` stays sorted)."""
    for start, end in spans:
        at = bisect_right(taken, (start, end, placeholder))
        if (at and taken[at - 1][1] > start) or (at < len(taken) and taken[at][0] < end):
            continue
        taken.insert(at, (start, end, placeholder))


def luhn_valid(number: str) -> bool:
    """The Luhn (mod 10) check of a card number; separators are ignored.

    >>> luhn_valid("4111 1111 1111 1111"), luhn_valid("4111 1111 1111 1112")
    (True, False)
    """
    digits = [int(char) for char in number if char.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return bool(digits) and total % 10 == 0


def _iban_span(match: re.Match[str]) -> tuple[int, int] | None:
    """The IBAN at the start of ``match``: its country's length of characters, ending at a group's end
    (a capitalized word after an IBAN whose length is a multiple of four joins the match)."""
    candidate = match.group()
    wanted = _IBAN_LENGTHS.get(candidate[:2])
    if wanted is None:
        return None
    seen = 0
    for index, char in enumerate(candidate):
        seen += char != " "
        if seen == wanted:
            end = index + 1
            if end < len(candidate) and candidate[end] != " ":
                return None
            return (match.start(), match.start() + end) if iban_valid(candidate[:end]) else None
    return None


def _phone_span(match: re.Match[str]) -> tuple[int, int] | None:
    """The span of a phone number candidate that has the digits and the shape of one."""
    group = "labelled" if match.group("labelled") is not None else "bare"
    number = match.group(group)
    groups = _DIGITS.findall(number)
    digits = sum(len(g) for g in groups)
    if not 7 <= digits <= 15:
        return None
    lengths = [len(g) for g in groups[:3]]
    date_like = len(lengths) == 3 and ((lengths[0] <= 2 and lengths[1] <= 2 and lengths[2] == 4)
                                       or (lengths[0] == 4 and lengths[1] <= 2 and lengths[2] <= 2))
    if match.group("intl") is not None:
        separators = set(re.sub(r"[\d()+]", "", number))
        if len(groups) == 1 and (number.startswith("00") or digits < 10):
            return None  # a bare "+1234567" is a signed figure as often as not
        if number.startswith("00") and digits < 11:
            return None  # "0026-2927" is an ISSN: 00, a country code and 8 digits at the least
        if "." in separators and (len(separators) > 1 or len(groups) < 3):
            return None  # a signed decimal or coordinate: "+40.712776", "+40.7128-074.0060"
        if re.match(r"\+\d{4}[-./]\d{1,2}[-./]\d{1,2}(?!\d)", number):
            return None  # an expanded ISO date "+2024-01-15"
    elif date_like:
        return None
    if match.group("trunk") is not None and (not 9 <= digits <= 12 or re.fullmatch(r"\d{5}-\d{4}", number)):
        return None  # too short or too long for a national number, or a US ZIP+4 code "02110-1301"
    return match.span(group)
