"""Finding our request token in a reply: recipient sub-address, subject, references.

Pure: the caller says what our reply address looks like. The token is the credential
that links a reply to a request, so it is looked for where we put it, in order of trust:
the address the reply was delivered to, then the subject, then (by the caller) the
In-Reply-To/References Message-IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import authres

TOKEN_PATTERN = r"[a-z2-7]{16}"
_SUBJECT_TOKEN = re.compile(rf"\[MC-({TOKEN_PATTERN})\]", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyAddress:
    local: str
    separator: str
    domain: str

    def pattern(self) -> re.Pattern[str]:
        return re.compile(
            rf"^{re.escape(self.local)}{re.escape(self.separator)}({TOKEN_PATTERN})"
            rf"@{re.escape(self.domain)}$",
            re.IGNORECASE,
        )


@dataclass(frozen=True)
class TokenFound:
    token: str
    where: str  # "recipient" | "subject"


def tokens_in_addresses(addresses: Iterable[str], reply: ReplyAddress) -> list[str]:
    pattern = reply.pattern()
    found: list[str] = []
    for address in addresses:
        match = pattern.match(address.strip().strip("<>"))
        if match and match.group(1).lower() not in found:
            found.append(match.group(1).lower())
    return found


def token_in_subject(subject: str) -> str | None:
    match = _SUBJECT_TOKEN.search(subject or "")
    return match.group(1).lower() if match else None


def find_tokens(recipients: Iterable[str], subject: str, reply: ReplyAddress) -> list[TokenFound]:
    """Every distinct token, recipient ones first."""
    found = [TokenFound(t, "recipient") for t in tokens_in_addresses(recipients, reply)]
    in_subject = token_in_subject(subject)
    if in_subject and all(f.token != in_subject for f in found):
        found.append(TokenFound(in_subject, "subject"))
    return found


def dmarc_failed(headers: Iterable[tuple[str, str]], authserv_id: str | None) -> bool:
    """True when an Authentication-Results header *from our own host* says dmarc=fail.

    Headers from other hosts are ignored: anyone can write one into a message, and only
    our receiving host's verdict is evidence (RFC 8601 section 5).
    """
    if not authserv_id:
        return False
    for name, value in headers:
        if name.lower() != "authentication-results":
            continue
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except Exception:
            continue
        if str(parsed.authserv_id).lower() != authserv_id.lower():
            continue
        if any(r.method == "dmarc" and r.result == "fail" for r in parsed.results):
            return True
    return False
