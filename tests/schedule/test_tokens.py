"""Request tokens: what the timetable puts in a reply address is what replies are searched for.

:func:`mailcapture.schedule.tokens.new_token` makes them (for data requests and for report
emails); :data:`mailcapture.parsing.addressing.TOKEN_PATTERN` finds them again. The two
live in different layers, so this holds them to one format.
"""

from __future__ import annotations

import re

from mailcapture.parsing.addressing import TOKEN_PATTERN
from mailcapture.schedule.tokens import new_token


def test_a_new_token_is_what_a_reply_is_searched_for() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50  # random, 80 bits: no repeats
    for token in tokens:
        assert re.fullmatch(TOKEN_PATTERN, token), token
