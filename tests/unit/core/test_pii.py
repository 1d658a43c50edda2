"""Personal data masking: each kind is masked, a failed check is not, ordinary numbers stay, and
offsets into a masked text still point at the same words."""

from __future__ import annotations

import time

import pytest

from core.pii import iban_valid, luhn_valid, mask_pii
from core.types import PageSpan
from ingest.parsing import ParsedText, _masked


@pytest.mark.parametrize(("text", "expected"), [
    ("Mail ana.silva@example.org today", "Mail [email] today"),
    ("<dpo@bloomfit.example>, ops-team@sub.brightwater.co.uk.", "<[email]>, [email]."),
    ("Call +44 20 7946 0958 or +1 (555) 123-4567", "Call [phone] or [phone]"),
    ("+33 6 12 34 56 78, +49-89-636-48018, +442079460958", "[phone], [phone], [phone]"),
    ("+44 (0)20 7946 0958 and 0044 20 7946 0958", "[phone] and [phone]"),
    ("(555) 123-4567, (020) 7946 0958, 555.123.4567, 1-800-555-0143", "[phone], [phone], [phone], [phone]"),
    ("030 12345678, 030/12345678, 0171-1234567", "[phone], [phone], [phone]"),
    ("06 12 34 56 78 or 06.12.34.56.78, 0330 555 0198", "[phone] or [phone], [phone]"),
    ("Tel: 5551234. Phone number: 0301234567. Fax 030 1234567", "Tel: [phone]. Phone number: [phone]. Fax [phone]"),
    ("Card 4111 1111 1111 1111 or 4111-1111-1111-1111", "Card [card] or [card]"),
    ("Amex 3782 822463 10005, Mastercard 5555555555554444.", "Amex [card], Mastercard [card]."),
    ("IBAN DE89 3704 0044 0532 0130 00 (BIC COBADEFFXXX)", "IBAN [iban] (BIC COBADEFFXXX)"),
    ("GB82 WEST 1234 5698 7654 32, DE89370400440532013000, NO9386011117947", "[iban], [iban], [iban]"),
    ("BE68 5390 0754 7034 ABCD", "[iban] ABCD"),  # a capitalized word after it stays
])
def test_each_kind_is_masked(text: str, expected: str) -> None:
    assert mask_pii(text).text == expected


@pytest.mark.parametrize("text", [
    "4111 1111 1111 1112",  # Luhn fails
    "5555555555554445",
    "1700000000000 ms",  # a timestamp: Luhn would pass 1 in 10, the first digit rules it out
    "ISBN 9780306406157 and 978-3-16-148410-0",
    "DE89 3704 0044 0532 0130 01",  # mod 97 fails
    "GB82 WEST 1234 5698 7654 33",
    "DE89 3704 0044 0532 0130",  # a German IBAN is 22 characters
    "AB12 3456 7890 1234 5678",  # no such country
])
def test_a_failed_check_is_not_masked(text: str) -> None:
    assert mask_pii(text).text == text


@pytest.mark.parametrize("text", [
    "On 2024-01-15 at 10:30, or 2024-01-15T10:30:00Z, or 15.01.2024, 01/02/2024, 01-02-2024, 12/25/2023 14:00.",
    "Open 10:30-11:45 and Mon-Fri 08:00-18:00; 05 10 2023 15 30.",
    "EUR 1,250.00, $1,234,567.89, 1 250 000 inhabitants, 10 000 000, EUR 1,150 a day.",
    "Version 1.2.3, v10.0.19045.2965, 1.0.0-rc.1, host 192.168.100.200, pi 3.14159265358979.",
    "75008 Paris, Boston MA 02110-1301, 01067 Dresden, SW1A 1AA, 12345-6789.",
    "From 1999-2004, in 2019 2020 2021 2022 2023, for 100-2000 users, pages 123-145.",
    "Order #555-123-4567, order 4471123456, tracking PP4471, SKU ABCD 1234 5678 9012.",
    "Smith (2019) 571 95-98; 84(1-3): 145-206. ISSN 0026-2927; +40.712776, +40.7128-074.0060, +12.5 °C.",
    "A change of +1234567 units; $555 123 4567; pH 7.4; the iPhone 15; 20240115; 0x1A2B3C4D.",
    "@app.route, pkg@1.2.3, tar -X@exclude.lst, systemctl start getty@tty1.service.",
])
def test_ordinary_numbers_and_words_stay(text: str) -> None:
    assert mask_pii(text).text == text


def test_the_checks_themselves() -> None:
    assert luhn_valid("4012888888881881") and not luhn_valid("4012888888881882")
    assert iban_valid("FR14 2004 1010 0505 0001 3M02 606") and not iban_valid("FR14 2004 1010 0505 0001 3M02 607")


def test_positions_move_with_the_masking() -> None:
    text = "ana@example.org wrote.\n\nCard 4111 1111 1111 1111 ends here."
    masked = mask_pii(text)
    assert masked.text == "[email] wrote.\n\nCard [card] ends here."
    for word in ("wrote", "Card", "ends", "here"):
        assert masked.text[masked.position(text.index(word)):].startswith(word)
    assert masked.position(0) == 0 and masked.position(len(text)) == len(masked.text)
    assert masked.position(text.index("example")) == 0  # inside a masked span: where its placeholder starts


def test_a_parsed_pdfs_pages_and_sections_still_start_at_their_text() -> None:
    pages = ["Contact ana@example.org or +44 20 7946 0958.", "Second page, IBAN DE89 3704 0044 0532 0130 00.",
             "Third page."]
    text = "\n\n".join(pages)
    starts = [text.index(page) for page in pages]
    parsed = ParsedText(text, "pdf", title="Letter to bob@example.com",
                        pages=[PageSpan(n, start) for n, start in enumerate(starts, start=1)],
                        sections=[(starts[1], "Payment"), (starts[2], "")])
    masked = _masked(parsed)
    assert masked.text == ("Contact [email] or [phone].\n\nSecond page, IBAN [iban].\n\nThird page.")
    assert [masked.text[p.start:].split(",")[0].split(".")[0] for p in masked.pages] == [
        "Contact [email] or [phone]", "Second page", "Third page"]
    assert [masked.text[offset:offset + 6] for offset, _ in masked.sections] == ["Second", "Third "]
    assert masked.title == "Letter to [email]"


def test_masking_stays_linear_on_hostile_text() -> None:
    for hostile in ("1 " * 200_000, "x@" * 200_000, "+1" * 200_000, "a@b." * 100_000, "AB12 " * 80_000):
        started = time.perf_counter()
        mask_pii(hostile)
        assert time.perf_counter() - started < 2.0
