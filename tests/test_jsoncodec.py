"""``k2p.jsoncodec``: exact numbers of any size, and the fast path for everything else.

A document takes the stdlib parser only when a run of 19+ digits could be a number; a run that
opens a string (every Planka id: "1920637665284195646") cannot, so such documents stay on orjson.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from k2p import jsoncodec

digit_runs = st.integers(min_value=10 ** 18, max_value=10 ** 30).map(str)
values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 90), max_value=2 ** 90)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text() | digit_runs
    | st.tuples(st.text(max_size=3), digit_runs, st.text(max_size=3)).map("".join),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4) | digit_runs, children,
                                                                      max_size=4),
    max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(value=values, spaced=st.booleans())
def test_every_document_parses_to_exactly_what_was_written(value: object, spaced: bool) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=1 if spaced else None).encode("utf-8")
    assert jsoncodec.loads(text) == value
    assert jsoncodec.loads_strict(text) == value


def test_a_digit_run_that_could_be_a_number_takes_the_exact_path() -> None:
    for number in (b'{"n":12345678901234567890}', b"[-12345678901234567890]", b"[ 12345678901234567890]",
                   b'{"a":"x","n":\n12345678901234567890}', b"12345678901234567890"):
        assert jsoncodec._needs_stdlib(number), number
        assert jsoncodec.loads(number) == json.loads(number)     # exact: orjson would give a float


def test_planka_ids_stay_on_the_fast_path() -> None:
    answer = b'{"item":{"id":"1920637665284195646","boardId":"1920637663086380276","position":65536}}'
    assert not jsoncodec._needs_stdlib(answer)
    assert jsoncodec.loads(answer)["item"]["id"] == "1920637665284195646"


def test_quoted_runs_are_told_from_numbers_without_the_regex_and_long_ones_with_it() -> None:
    """Where every long run opens a string the counts decide; a run of 38+ digits (counted twice)
    or a run inside a string after other text sends the document to the regex, which decides
    exactly: only an unquoted run is a number."""
    ids = b'{"items":[' + b",".join(b'{"id":"%d","cardId":"%d"}' % (10 ** 18 + n, 10 ** 18 - n)
                                   for n in range(500)) + b"]}"
    assert not jsoncodec._needs_stdlib(ids)
    assert not jsoncodec._needs_stdlib(b'{"a":"' + b"7" * 40 + b'"}')
    assert jsoncodec._needs_stdlib(b'{"a":"x' + b"7" * 19 + b'"}')           # conservative: text after x
    assert jsoncodec._needs_stdlib(ids[:-2] + b',{"id":12345678901234567890}]}')
    assert jsoncodec.loads(ids[:-2] + b',{"id":12345678901234567890}]}')["items"][-1]["id"] == 12345678901234567890
