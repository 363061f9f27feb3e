"""Finding our request token in a reply, and what our receiving host said about its sender.

Pure: the caller says what our reply address looks like. The token is the credential
that links a reply to a request, so it is looked for where we put it, in order of trust:
the address the reply was delivered to, then the subject, then (by the caller) the
In-Reply-To/References Message-IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

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


# --------------------------------------------------------------------------------------------
# Authentication-Results (RFC 8601) from our own receiving host
# --------------------------------------------------------------------------------------------


class AuthVerdict(StrEnum):
    """What our receiving host said about a message's DMARC, as the pipeline needs it.

    ``UNREADABLE`` is its own verdict, not ``NONE``: a header from our host that neither the
    RFC 8601 parser nor the lenient reader can read may hide a failure, so the pipeline
    holds the message instead of guessing (fail closed).
    """

    PASS = "pass"
    FAIL = "fail"
    NONE = "none"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class MethodResult:
    """One ``method=result`` of a header, with its properties (``header.from``, ...)."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def prop(self, name: str) -> str | None:
        for key, value in self.properties:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Authentication:
    """Our receiving host's word on one message: the DMARC verdict and every result it gave.

    ``results`` holds the readable results of the headers from our own authserv-id only;
    ``detail`` says why the verdict is what it is, for the message's audit trail.
    """

    verdict: AuthVerdict
    detail: str
    results: tuple[MethodResult, ...] = ()

    def vouches_for(self, address: str) -> bool:
        """Did our host see DMARC or SPF pass *for this address's domain*?

        A pass for some other domain (an attacker's own SPF record, a From that is not the
        address we would write to) is no evidence that ``address`` sent the message, so it
        does not count. Every result our host gave for the method must be a pass: a forged
        ``pass`` copied into the message beside our host's real ``fail`` or ``none`` is not
        believed.
        """
        domain = address.rpartition("@")[2].strip().lower()
        if not domain or self.verdict in (AuthVerdict.FAIL, AuthVerdict.UNREADABLE):
            return False
        for method, prop in (("dmarc", "header.from"), ("spf", "smtp.mailfrom")):
            found = [r for r in self.results if r.method == method]
            if not found or any(r.result != "pass" for r in found):
                continue
            about = [_domain_of(r.prop(prop)) for r in found]
            if method == "dmarc":
                # header.from may be left out: the pass is then about this message's From.
                about = [d if d is not None else domain for d in about]
            if all(d == domain for d in about):
                return True
        return False


def _domain_of(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().strip("<>").rpartition("@")[2].strip().lower() or None


_DMARC_FAIL = re.compile(r"\bdmarc\s*(?:/\s*\d+\s*)?=\s*\"?\s*fail\b", re.IGNORECASE)
_METHOD = re.compile(r"[a-z0-9][a-z0-9_.-]*(?:/\d+)?")
_RESULT = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PAIR = re.compile(r"([^\s;=\"]+)\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|([^\s;\"]*))")


class _Unreadable(ValueError):
    """The lenient reader gave up on a header: the caller holds the message."""


def _without_comments(text: str) -> str:
    """``text`` with RFC 5322 comments (nested, with quoted pairs) replaced by a space;
    quoted strings are kept whole. Unbalanced parentheses or quotes are unreadable."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            out.append(char)
            if char == '"':
                quoted = False
            continue
        if char == "(":
            depth += 1
            continue
        if char == ")":
            if depth == 0:
                raise _Unreadable("unbalanced parenthesis")
            depth -= 1
            if depth == 0:
                out.append(" ")
            continue
        if depth:
            continue
        if char == '"':
            quoted = True
        out.append(char)
    if depth or quoted or escaped:
        raise _Unreadable("unterminated comment or quoted string")
    return "".join(out)


def _segments(text: str) -> list[str]:
    """``text`` split at the semicolons outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _lenient_authserv_id(text: str) -> str | None:
    """The authserv-id (the first word before the first semicolon), comments or not."""
    try:
        head = _segments(_without_comments(text))[0]
    except _Unreadable:
        head = re.sub(r"\([^()]*\)", " ", text).split(";", 1)[0]
    words = head.split()
    return words[0].strip('"') if words else None


def _lenient_results(text: str) -> list[MethodResult]:
    """Read a header authres refused: the spellings real receivers write.

    Accepted: a trailing or doubled ``;``, empty quoted values (``reason=""``), comments
    anywhere, folded whitespace, any case. Every other part of a result must still be a
    ``name=value`` pair; anything else raises :class:`_Unreadable`, so a header this reader
    does not fully understand is never read as a pass.
    """
    segments = _segments(_without_comments(text))
    results: list[MethodResult] = []
    for segment in segments[1:]:
        segment = segment.strip()
        if not segment or segment.lower() == "none":
            continue
        pairs: list[tuple[str, str]] = []
        pos = 0
        while pos < len(segment):
            if segment[pos].isspace():
                pos += 1
                continue
            match = _PAIR.match(segment, pos)
            if match is None:
                raise _Unreadable(f"cannot read {segment[pos : pos + 40]!r}")
            value = match.group(2) if match.group(2) is not None else match.group(3)
            pairs.append((match.group(1).lower(), re.sub(r"\\(.)", r"\1", value)))
            pos = match.end()
        if not pairs:
            continue
        method, result = pairs[0]
        if not _METHOD.fullmatch(method) or not _RESULT.fullmatch(result.lower()):
            raise _Unreadable(f"not a method=result: {method}={result}")
        properties = tuple((k, v) for k, v in pairs[1:] if k != "reason")
        results.append(MethodResult(method.split("/", 1)[0], result.lower(), properties))
    return results


def _strict_results(text: str, authserv_id: str) -> list[MethodResult] | None:
    """The header through authres (RFC 8601's grammar); None when it refuses it."""
    try:
        parsed = authres.AuthenticationResultsHeader.parse_value(text)
    except Exception:  # authres raises its own SyntaxError subclasses, and more on odd input
        return None
    if str(parsed.authserv_id).lower() != authserv_id.lower():
        return None  # let the lenient reader decide whose header it is
    return [
        MethodResult(
            str(r.method).lower(),
            str(r.result).lower(),
            tuple((f"{p.type}.{p.name}".lower(), str(p.value)) for p in r.properties),
        )
        for r in parsed.results
    ]


def read_authentication(
    headers: Iterable[tuple[str, str]], authserv_id: str | None
) -> Authentication:
    """What our own receiving host (``authserv_id``) said in ``Authentication-Results``.

    Headers from other hosts are ignored: anyone can write one into a message, and only our
    receiving host's verdict is evidence (RFC 8601 section 5, which also has our host remove
    any header that claims to be from it before adding its own). From our host:

    * ``dmarc=fail`` anywhere in any of its headers, however the rest is written, is
      ``FAIL``;
    * a header neither authres nor the lenient reader can read is ``UNREADABLE``;
    * otherwise ``PASS`` when it says ``dmarc=pass``, and ``NONE`` when it says nothing
      about DMARC (or there is no header from it, or no authserv-id is configured).
    """
    if not authserv_id:
        return Authentication(AuthVerdict.NONE, "no authserv-id configured")
    ours = authserv_id.strip().lower()
    results: list[MethodResult] = []
    unreadable: str | None = None
    seen = 0
    for name, value in headers:
        if name.strip().lower() != "authentication-results":
            continue
        text = " ".join(value.split())
        strict = _strict_results(text, ours)
        if strict is None:
            found_id = _lenient_authserv_id(text)
            if found_id is None or found_id.lower() != ours:
                continue
        seen += 1
        if _DMARC_FAIL.search(text):
            return Authentication(AuthVerdict.FAIL, f"dmarc=fail from {authserv_id}")
        if strict is not None:
            results.extend(strict)
            continue
        try:
            results.extend(_lenient_results(text))
        except _Unreadable as exc:
            unreadable = unreadable or f"{exc} in {text[:120]!r}"
    if unreadable is not None:
        return Authentication(
            AuthVerdict.UNREADABLE,
            f"unreadable authentication result from {authserv_id}: {unreadable}",
            tuple(results),
        )
    dmarc = [r.result for r in results if r.method == "dmarc"]
    if "pass" in dmarc:
        return Authentication(AuthVerdict.PASS, f"dmarc=pass from {authserv_id}", tuple(results))
    detail = (
        f"no authentication result from {authserv_id}"
        if not seen
        else f"{authserv_id} gave dmarc={'/'.join(dmarc) or 'nothing'}"
    )
    return Authentication(AuthVerdict.NONE, detail, tuple(results))
