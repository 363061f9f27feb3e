"""Request tokens: the random credential in a reply address that links a reply to its email.

Its own module so that both :mod:`.tick` (data requests) and :mod:`.reports` (report emails
that take answers) can import it at the top: it lived in :mod:`.tick`, which imports
:mod:`.reports`, so :mod:`.reports` had to import it late to dodge the cycle (issue 14).
The format is the one :data:`mailcapture.parsing.addressing.TOKEN_PATTERN` looks for.
"""

from __future__ import annotations

import base64
import secrets

TOKEN_BYTES = 10  # 80 bits: 16 base32 characters


def new_token() -> str:
    """80 random bits in lower-case base32: unguessable, short, safe in a local part."""
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().lower()
