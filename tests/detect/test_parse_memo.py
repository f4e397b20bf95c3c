"""parse() remembers the last pages it parsed: a repeated call gives the very same answer, and the memo
stays within its bounds whatever is parsed."""

from __future__ import annotations

from detect import page_parse
from detect.page_parse import _parse, parse

PAGE = b"<html><head><title>T</title></head><body><p>some words here</p><a href='/x'>x</a></body></html>"


def test_a_repeated_parse_is_the_computed_one() -> None:
    first = parse(PAGE, "text/html")
    assert parse(bytes(bytearray(PAGE)), "text/html") is first  # equal bytes, another object: a hit
    assert first == _parse(PAGE, "text/html")
    # the content type is part of the key: another charset may decode the bytes otherwise
    latin = b"<title>caf\xe9</title>"
    assert parse(latin, "text/html; charset=iso-8859-1").title == "caf\u00e9"
    assert parse(latin, "text/html; charset=utf-8").title == "caf\ufffd"


def test_the_memo_stays_bounded() -> None:
    for i in range(page_parse.MEMO_PAGES * 2):
        parse(PAGE + b"<p>%d</p>" % i)
    assert len(page_parse._memo) <= page_parse.MEMO_PAGES
    big = b"<p>" + b"w " * (page_parse.MEMO_BYTES // 8) + b"</p>"
    for i in range(6):
        parse(big + b"%d" % i)
    assert page_parse._memo_bytes <= page_parse.MEMO_BYTES
    assert page_parse._memo_bytes == sum(len(body) for body, _ct in page_parse._memo)
    huge = b"<p>" + b"w " * (page_parse.MEMO_BYTES // 2) + b"</p>"
    parse(huge)
    assert (huge, "") not in page_parse._memo  # a page over a quarter of the budget is not kept


def test_class_values_lose_exactly_digits_and_regex_whitespace() -> None:
    """The skeleton's class values drop what re's [0-9\\s] matches: the translate table is that set."""
    import re

    dropped = {chr(c) for c in range(0x110000) if re.fullmatch(r"[0-9\s]", chr(c))}
    assert {chr(c) for c in page_parse._DROP_FROM_CLASS} == dropped
