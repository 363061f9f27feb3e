"""Which addresses that arrived in a message we can write to (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcapture.compose.message import (
    Envelope,
    address_problem,
    build_message,
    writable_address,
)
from mailcapture.compose.render import Rendered


@pytest.mark.parametrize(
    "address",
    [
        "kevin.walsh@ashdown.example",
        "a+b@c.example",
        "o'brien@c.example",
        "root@localhost",
        "k" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 40 + ".example",  # 241
    ],
)
def test_addresses_we_write_to(address: str) -> None:
    assert address_problem(address) is None
    assert writable_address(address) == address


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("", "no address"),
        ("k\u00e9vin.walsh@ashdown.example", "not ASCII"),
        ("kevin.wal\ufffdsh@ashdown.example", "could not be read"),
        ("kevin.wal\x00sh@ashdown.example", "control characters"),
        ("kevin.walsh@ashdown..example", "not a host name"),
        ("kevin.walsh@@ashdown.example", "exactly one @"),
        ("kevin.walsh@", "nothing before or after"),  # the stdlib's parser: IndexError
        ("\\@[", "not a plain name"),  # the stdlib's parser: AttributeError
        ("kevin walsh@ashdown.example", "not a plain name"),
        ("unterminated <k@a.example", "not a plain name"),
        ("kevin(x)@a.example", "not a plain name"),
        ('"kevin\\"walsh"@a.example', "not a plain name"),
        ("a..b@c.example", "not a plain name"),
        ("k@[127.0.0.1]", "not a host name"),
        ("k@-a.example", "not a host name"),
        ("x" * 65 + "@a.example", "longer than 64"),
        ("k@" + "a" * 300 + ".example", "longer than 254"),
    ],
)
def test_addresses_we_cannot_write_to_say_why(address: str, why: str) -> None:
    problem = address_problem(address)
    assert problem is not None and why in problem
    assert writable_address(address) is None


@given(st.text(max_size=80))
def test_address_problem_never_raises(address: str) -> None:
    problem = address_problem(address)
    assert problem is None or problem


_ADDRESSES = st.emails() | st.builds(
    "{}@{}".format,
    st.text(alphabet=st.sampled_from('ab.+"\\ ()<>@\u00e9\x00-'), min_size=1, max_size=12),
    st.text(alphabet=st.sampled_from("ab.-[]\u00e9"), min_size=1, max_size=12),
)


@given(_ADDRESSES)
def test_an_address_said_writable_can_be_written(address: str) -> None:
    """The promise callers rely on: no address passes the check that building refuses."""
    if address_problem(address) is None:
        envelope = Envelope(
            from_header="Ashdown Performance Team <performance@ashdown.example>",
            to=address,
            to_name=None,
            reply_to=None,
            message_id="<n@ashdown.example>",
        )
        rendered = Rendered(subject="Your email", text="Nothing recorded.\n", html="<p>x</p>\n")
        assert build_message(envelope, rendered, datetime(2026, 5, 5, 9, tzinfo=UTC))
