"""Reading the options of a transport URL (``smtp://``, ``imap://``) the same strict way.

Unknown, repeated or empty options are errors (a misspelt ``verfy=0`` must not be
ignored), and values are never echoed: a password with an unencoded ``?`` ends up in the
query string.
"""

from __future__ import annotations

import ipaddress
import math
from urllib.parse import parse_qsl

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def parse_options(
    query: str, allowed: tuple[str, ...], label: str, error: type[ValueError]
) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise error(f"{label} URL query is malformed") from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise error(f"unknown {label} URL option: expected one of {', '.join(allowed)}")
        if key in options:
            raise error(f"{label} URL option {key!r} is given twice")
        if not value:
            raise error(f"{label} URL option {key!r} has no value")
        options[key] = value
    return options


def parse_flag(key: str, value: str, label: str, error: type[ValueError]) -> bool:
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise error(f"{label} URL option {key!r} must be 1 or 0")


def parse_seconds(value: str, label: str, error: type[ValueError]) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise error(f"{label} URL option 'timeout' must be a positive number of seconds")
    return seconds


def is_loopback(host: str) -> bool:
    """Plain-text credentials are only ever allowed to this machine."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
