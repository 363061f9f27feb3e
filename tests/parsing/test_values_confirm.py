"""``confirm``: the one word that keeps a figure held as implausible (issue 13, part 3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mailcapture.parsing.values import parse_value

TODAY = date(2026, 5, 5)


@pytest.mark.parametrize("answer", ["confirm", "Confirm", "CONFIRMED", " confirm. "])
def test_the_word_alone_is_a_confirmation(answer: str) -> None:
    parsed = parse_value(answer, "£", TODAY)
    assert parsed.kind == "confirm"
    assert parsed.value is None and not parsed.estimated


@pytest.mark.parametrize("answer", ["confirm 40", "40 confirmed", "please confirm", "confirms"])
def test_confirm_with_anything_else_is_no_confirmation(answer: str) -> None:
    assert parse_value(answer, "£", TODAY).kind == "rejected"


@pytest.mark.parametrize(
    "answer", ["about 40", "approx 40", "c. 40", "c.40", "~40", "~ 40", "est 40", "40 est"]
)
def test_estimate_words_keep_the_number(answer: str) -> None:
    parsed = parse_value(answer, "£", TODAY)
    assert (parsed.kind, parsed.value, parsed.estimated) == ("number", Decimal(40), True)
