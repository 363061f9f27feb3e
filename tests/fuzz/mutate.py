"""A hostile-mail mutator over the test corpus (issue 12), for the fuzz test and the benchmark.

Every case starts from a *seed*: a real message from ``tests/corpus/**/*.eml``, or a reply in
a real client's style (``mailcapture.demo.clients``) to one of the sample council's real
requests, so that mutated messages also reach the parse and apply stages with a live token
and a registered sender. One to four *mutations* are then applied to the bytes: byte flips,
truncation, header deletion and duplication, odd charsets (zlib, rot13, punycode, utf-7,
base64, unknown names), NULs, deep nesting, many parts, huge lines, broken encoded words,
huge numbers in answers, malformed or non-ASCII From addresses, and garbage in the headers
later stages read.

All choices come from one :class:`random.Random`, so a case is fixed by the generator it is
given: ``benchmarks/fuzz.py`` seeds one per case, and the fuzz test takes hypothesis's
``st.randoms()`` (which hypothesis can shrink). Sizes are kept moderate (a line is at most
128 KB, a message at most a few MB) because this finds *wrong answers to hostile input*; what
huge input costs is measured by the cost benchmarks.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

#: Charset names that are not text encodings, or that Python knows only as something odd.
ODD_CHARSETS = (
    "zlib", "zlib_codec", "base64", "base64_codec", "hex", "hex_codec", "rot13", "rot_13",
    "bz2", "uu", "quopri", "punycode", "idna", "utf-7", "utf-16", "utf-32", "unicode_escape",
    "raw_unicode_escape", "x-unknown-charset", "charset", "none", "utf-8\x00", "utf\u00e9-8",
    "a" * 200, "", "\"\"", "iso-2022-jp", "cp037", "mbcs", "undefined", "unknown-8bit",
)  # fmt: skip

#: Encoded words as senders and attackers write them: non-text codecs, bad payloads.
BROKEN_ENCODED_WORDS = (
    "=?zlib?B?eJw=?=",
    "=?base64?B?YWJj?=",
    "=?hex?Q?41?=",
    "=?hex_codec?B?NDE=?=",
    "=?rot13?Q?uryyb?=",
    "=?bz2?B?QlpoOTFBWSZTWQ==?=",
    "=?uu?B?YWJj?=",
    "=?quopri?Q?=3D?=",
    "=?punycode?Q?bcher-kva?=",
    "=?idna?Q?xn--bcher-kva?=",
    "=?utf-7?B?K0FPUS0=?=",
    "=?undefined?B?YWJj?=",
    "=?x-nonsense?B?w6k=?=",
    "=?utf-8?B?####?=",
    "=?utf-8?B?w?=",
    "=?utf-8?Q?=E2=82?=",
    "=?utf-8?Q?=ZZ=00=0A?=",
    "=?utf-8?B?AA==?=",
    "=?utf-8?Q?a=00b?=",
    "=?utf-8?B?",
    "=??B??=",
    "=?utf-8*en-gb?Q?caf=C3=A9?=",
    "=?" + "x" * 300 + "?B?YQ==?=",
    "=?utf-16?B?2D3eAA==?=",
    "=?utf-8?B?7aCA?=",  # an encoded lone surrogate
)

#: From headers nobody can answer: non-ASCII local parts, broken syntax, NUL, too long.
HOSTILE_FROM = (
    "k\u00e9vin.walsh@ashdown.example",
    "K\u00e9vin <k\u00e9vin.walsh@ashdown.example>",
    "=?utf-8?Q?K=C3=A9vin?= <k\u00e9vin@ashdown.example>",
    "\u7528\u6237@\u4f8b\u5b50.example",
    "kevin.walsh@@ashdown.example",
    "<kevin.walsh@ashdown.example",
    '"unterminated <kevin.walsh@ashdown.example>',
    "kevin walsh@ashdown.example",
    "@ashdown.example",
    "kevin.walsh@",
    "kevin.walsh@ashdown..example",
    "kevin.walsh@-ashdown.example",
    "kevin.walsh@[300.1.1.1]",
    "undisclosed-recipients:;",
    "a@b, c@d, kevin.walsh@ashdown.example",
    "(comment) kevin.walsh@ashdown.example (more",
    "kevin.wal\x00sh@ashdown.example",
    "kevin.walsh@ashdown.example\x00",
    "x" * 400 + "@ashdown.example",
    "kevin@" + "a" * 300 + ".example",
    "k" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 40 + ".example",  # valid, 241
    '"kevin\\"walsh"@ashdown.example',
    "kevin.walsh@ashdown.example\t(tab)",
    "=?zlib?B?eJw=?= <kevin.walsh@ashdown.example>",
    "\u202ekevin.walsh@ashdown.example",
    "kevin\u200b.walsh@ashdown.example",
    "<>",
    "",
)

#: Answers that are not plain figures: too large for NUMERIC(18,6), special values, odd forms.
HOSTILE_NUMBERS = (
    "99999999999999999999999999999",
    "-99999999999999999999999999999",
    "1" + "0" * 400,
    "9" * 5000,
    "1e999",
    "1E+999",
    "1e-999",
    "NaN",
    "nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1000000000000",
    "999999999999.999999",
    "999999999999.9999999",
    "0.0000001",
    "1,000,000,000,000,000",
    "123456789012.1234567",
    "0.1234567",
    "1_000",
    "0x10",
    "\uff11\uff12\uff13",
    "\u0663\u0664\u0665",
    "12\x0034",
    "12\u00b2",
    "-0",
    "9" * 28 + ".5",
)
NORMAL_NUMBERS = ("0", "12", "1,234", "97.5", "20000", "n/a - system down", "nil", "450")
STATUSES = ("on track", "at risk", "delayed", "complete 1 May 2026", "not started", "green")

INTERESTING_BYTES = b'\x00\xff\x80\xc3\xa9\r\n:=?<>"-;\\ \t'


# ------------------------------------------------------------------------------ seeds


class Seed:
    """Where a case starts: ``make(rnd)`` gives its bytes (a reply picks its answers)."""

    name: str

    def make(self, rnd: random.Random, hostile: bool = True) -> bytes:
        """The seed's bytes; ``hostile`` lets a reply carry hostile answers."""
        raise NotImplementedError


@dataclass
class FileSeed(Seed):
    name: str
    raw: bytes

    def make(self, rnd: random.Random, hostile: bool = True) -> bytes:
        return self.raw


@dataclass
class ReplySeed(Seed):
    """A reply to a real request, written by one of the demo's client builders."""

    name: str
    request_raw: bytes
    sender: str
    style: str
    items: tuple[tuple[str, bool], ...]  # (code, is a milestone)

    def answers(self, rnd: random.Random, hostile: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        for code, milestone in self.items:
            if rnd.random() < 0.15:
                continue  # left blank
            if milestone:
                out[code] = rnd.choice(STATUSES)
            elif hostile and rnd.random() < 0.25:
                out[code] = rnd.choice(HOSTILE_NUMBERS)
            else:
                out[code] = rnd.choice(NORMAL_NUMBERS)
        if rnd.random() < 0.3 and self.items:
            code = self.items[0][0].split(".")[0]
            note = rnd.choice(HOSTILE_NUMBERS) if hostile else "see the note"
            out[f"{code} comment"] = "Figures from the new system; " + note
        return out

    def make(self, rnd: random.Random, hostile: bool = True) -> bytes:
        answers = self.answers(rnd, hostile)
        try:
            return self._build(answers)
        except UnicodeEncodeError:  # windows-1252 (Outlook) cannot carry every answer
            return clients.phone(self.request_raw, self.sender, _top(answers))

    def _build(self, answers: dict[str, str]) -> bytes:
        top = _top(answers)
        raw = self.request_raw
        if self.style == "outlook":
            return clients.outlook_in_place(raw, self.sender, answers, top="Figures below.")
        if self.style == "gmail":
            return clients.gmail_top_posted(raw, self.sender, top)
        if self.style == "iphone":
            return clients.iphone(raw, self.sender, top)
        if self.style == "owa":
            return clients.outlook_web_html_only(raw, self.sender, top.split("\n"))
        if self.style == "out_of_office":
            return clients.out_of_office(raw, self.sender, "I am away until 20 May 2026.")
        if self.style == "bounce":
            return clients.dsn_bounce(raw, self.sender)
        return clients.phone(raw, self.sender, top)


def _top(answers: dict[str, str]) -> str:
    return "\n".join(f"{code}: {value}" for code, value in answers.items())


REPLY_STYLES = ("outlook", "gmail", "iphone", "owa", "phone")
_FORM_LINE = re.compile(r"^\[([^\]\s]+)\][^\n]*:\s*$", re.M)


def corpus_seeds() -> list[Seed]:
    """Every ``.eml`` in the corpus (the hostile folder included), sorted for a stable order."""
    return [
        FileSeed(str(path.relative_to(CORPUS)), path.read_bytes())
        for path in sorted(CORPUS.rglob("*.eml"))
    ]


def sent_requests(sessions: sessionmaker[Session]) -> list[tuple[str, bytes]]:
    """(addressee, request bytes) of every data request in the outbox, in queue order."""
    with sessions() as session:
        rows = session.execute(
            select(m.Person.email, m.OutboxMessage.raw)
            .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
            .where(m.OutboxMessage.kind == "request")
            .order_by(m.OutboxMessage.id)
        )
        return [(email, raw) for email, raw in rows]


def reply_seeds(requests: Sequence[tuple[str, bytes]]) -> list[Seed]:
    """Replies in every client style to each ``(addressee, request bytes)``, plus robots."""
    seeds: list[Seed] = []
    for email, raw in requests:
        text = clients.plain_text(clients.parsed(raw))
        items = tuple(
            (code, ".M" in code)
            for code in _FORM_LINE.findall(text)
            if not code.endswith("comment") and " " not in code
        )
        for style in (*REPLY_STYLES, "out_of_office", "bounce"):
            seeds.append(ReplySeed(f"{style}:{email}", raw, email, style, items))
    return seeds


# ------------------------------------------------------------------------------ helpers


def _split(raw: bytes) -> tuple[list[bytes], bytes, bytes]:
    """(header fields with their continuation lines, separator, body) of ``raw``."""
    eol = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    end = raw.find(eol + eol)
    if end < 0:
        head, sep, body = raw, b"", b""
    else:
        head, sep, body = raw[:end], eol + eol, raw[end + 2 * len(eol) :]
    fields: list[bytes] = []
    for line in head.split(eol):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += eol + line
        else:
            fields.append(line)
    return fields, sep or eol + eol, body


def _join(fields: list[bytes], sep: bytes, body: bytes) -> bytes:
    eol = sep[: len(sep) // 2]
    return eol.join(fields) + sep + body


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def _set_header(raw: bytes, name: str, value: bytes) -> bytes:
    fields, sep, body = _split(raw)
    wanted = name.lower().encode()
    line = name.encode() + b": " + value
    for i, field in enumerate(fields):
        if _name(field) == wanted:
            fields[i] = line
            break
    else:
        fields.insert(0, line)
    return _join(fields, sep, body)


def _text(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


# ------------------------------------------------------------------------------ mutations


def flip_bytes(raw: bytes, rnd: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 8)):
        if not data:
            break
        pos = rnd.randrange(len(data))
        data[pos] = rnd.choice(INTERESTING_BYTES) if rnd.random() < 0.6 else rnd.randrange(256)
    return bytes(data)


def truncate(raw: bytes, rnd: random.Random) -> bytes:
    return raw[: rnd.randint(1, max(1, len(raw) - 1))]


def delete_header(raw: bytes, rnd: random.Random) -> bytes:
    fields, sep, body = _split(raw)
    if len(fields) > 1:
        del fields[rnd.randrange(len(fields))]
    return _join(fields, sep, body)


def duplicate_header(raw: bytes, rnd: random.Random) -> bytes:
    fields, sep, body = _split(raw)
    if not fields:
        return raw
    field = rnd.choice(fields)
    if rnd.random() < 0.5:
        field = flip_bytes(field, rnd)
    fields.insert(rnd.randrange(len(fields) + 1), field)
    return _join(fields, sep, body)


def odd_charset(raw: bytes, rnd: random.Random) -> bytes:
    """Every declared charset (or one added to a Content-Type) becomes an odd one."""
    name = _text(rnd.choice(ODD_CHARSETS))
    pattern = re.compile(rb'charset\s*=\s*("[^"\r\n]*"|[^\s;]+)', re.I)
    if pattern.search(raw) and rnd.random() < 0.8:
        count = 0 if rnd.random() < 0.5 else 1
        return pattern.sub(lambda _m: b'charset="' + name + b'"', raw, count=count)
    return _set_header(raw, "Content-Type", b'text/plain; charset="' + name + b'"')


def encoded_word(raw: bytes, rnd: random.Random) -> bytes:
    """A broken or non-text encoded word in the Subject, a display name or a filename."""
    word = _text(rnd.choice(BROKEN_ENCODED_WORDS))
    where = rnd.random()
    if where < 0.5:
        return _set_header(raw, "Subject", b"Re: " + word + b" [MC-x]")
    if where < 0.8:
        return _set_header(raw, "From", word + b" <kevin.walsh@ashdown.example>")
    return _set_header(raw, "Content-Disposition", b'attachment; filename="' + word + b'"')


def nul_bytes(raw: bytes, rnd: random.Random) -> bytes:
    """NULs in a header value (often the From address) or in the body."""
    fields, sep, body = _split(raw)
    if fields and rnd.random() < 0.7:
        froms = [i for i, f in enumerate(fields) if _name(f) == b"from"]
        i = froms[0] if froms and rnd.random() < 0.6 else rnd.randrange(len(fields))
        field = fields[i]
        pos = rnd.randint(min(len(field), field.find(b":") + 1), len(field))
        fields[i] = field[:pos] + b"\x00" * rnd.randint(1, 3) + field[pos:]
        return _join(fields, sep, body)
    pos = rnd.randint(0, len(body))
    return _join(fields, sep, body[:pos] + b"\x00" + body[pos:])


def _content_type_of(fields: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The fields split into (MIME content fields, the rest)."""
    mime = [f for f in fields if _name(f).startswith(b"content-")]
    rest = [f for f in fields if not _name(f).startswith(b"content-")]
    return mime, rest


def deep_nesting(raw: bytes, rnd: random.Random) -> bytes:
    """The body wrapped in 1 to 30 levels of multipart/mixed."""
    fields, sep, body = _split(raw)
    eol = sep[: len(sep) // 2]
    mime, rest = _content_type_of(fields)
    inner = eol.join(mime or [b"Content-Type: text/plain"]) + sep + body
    for level in range(rnd.randint(1, 30)):
        boundary = b"nest" + str(level).encode()
        inner = (
            b"Content-Type: multipart/mixed; boundary=" + boundary + sep
            + b"--" + boundary + eol + inner + eol + b"--" + boundary + b"--" + eol
        )  # fmt: skip
    return eol.join([*rest, b"MIME-Version: 1.0"]) + eol + inner


def many_parts(raw: bytes, rnd: random.Random) -> bytes:
    """The body as the first of 2 to 700 parts of a multipart/mixed."""
    fields, sep, body = _split(raw)
    eol = sep[: len(sep) // 2]
    mime, rest = _content_type_of(fields)
    boundary = b"many-parts-boundary"
    count = rnd.choice((2, 10, 60, 499, 501, 700))
    first = eol.join(mime or [b"Content-Type: text/plain"]) + sep + body
    extra = rnd.choice(
        (b"Content-Type: text/plain" + sep + b"x", b"Content-Type: image/png" + sep + b"\x89PNG")
    )
    parts = [first] + [extra] * (count - 1)
    out = b"".join(b"--" + boundary + eol + part + eol for part in parts)
    head = [*rest, b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="' + boundary]
    head[-1] += b'"'
    return eol.join(head) + sep + out + b"--" + boundary + b"--" + eol


def huge_line(raw: bytes, rnd: random.Random) -> bytes:
    """One very long line in the body or in a header."""
    size = rnd.choice((1_000, 10_000, 128_000))
    unit = rnd.choice((b"x", b"9", b"-- ", b"=?utf-8?B?w6k=?= ", b"<a@b> ", b"\xc3\xa9", b"[X] "))
    line = (unit * (size // len(unit) + 1))[:size]
    fields, sep, body = _split(raw)
    if rnd.random() < 0.4 and fields:
        name = rnd.choice((b"Subject", b"References", b"From", b"To", b"X-Long"))
        fields.append(name + b": " + line)
        return _join(fields, sep, body)
    pos = rnd.randint(0, len(body))
    eol = sep[: len(sep) // 2]
    return _join(fields, sep, body[:pos] + eol + line + eol + body[pos:])


def hostile_from(raw: bytes, rnd: random.Random) -> bytes:
    """A From nobody can answer; half the time with our receiving host's DMARC pass for
    its domain, so a notice to that stranger is really attempted (the sample register
    names an authserv-id, and only a vouched stranger is written to)."""
    value = rnd.choice(HOSTILE_FROM)
    raw = _set_header(raw, "From", _text(value))
    if rnd.random() < 0.5:
        domain = value.rpartition("@")[2].strip("<>() ")
        verdict = b"mx.ashdown.example; dmarc=pass header.from=" + _text(domain)
        raw = _set_header(raw, "Authentication-Results", verdict)
    return raw


def raw_8bit_header(raw: bytes, rnd: random.Random) -> bytes:
    name = rnd.choice(("Subject", "From", "To", "Content-Type", "Message-ID", "References"))
    fields, sep, body = _split(raw)
    junk = bytes(rnd.randrange(0x80, 0x100) for _ in range(rnd.randint(1, 20)))
    for i, field in enumerate(fields):
        if _name(field) == name.lower().encode():
            fields[i] = field + b" " + junk
            return _join(fields, sep, body)
    return _set_header(raw, name, junk)


_GARBAGE_HEADERS: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("Date", (b"Tue, 99 Foo 99999 99:99:99 +9999", b"", b"\x00", b"-1")),
    ("Content-Type", (b"multipart/mixed", b"text/plain; charset", b"/", b"multipart/;;;")),
    ("Content-Transfer-Encoding", (b"base64", b"x-uuencode", b"quoted-printable", b"zlib")),
    ("Content-Disposition", (b"attachment; filename*=zlib''x", b"inline; filename*0*=''%ff")),
    ("Authentication-Results", (b"mx.ashdown.example; dmarc=fail header.from=x;", b";;;")),
    ("Auto-Submitted", (b"\x00", b"auto-replied" * 50)),
    ("References", (b"<" * 500, b"<a@b> " * 2000, b"<@>")),
    ("In-Reply-To", (b"<>", b"<\x00@x>", b"=?zlib?B?eJw=?=")),
    ("Message-ID", (b"<\x00@x>", b"<" + b"a" * 2000 + b"@x>", b"", b"<a@b@c>")),
    ("Reply-To", (b"k\xc3\xa9vin@ashdown.example", b"<>", b"@")),
    ("To", (b"returns+\x00@returns.ashdown.example", b"=?utf-8?B?w6k=?= <@>")),
    ("Return-Path", (b"<>", b"<\xc3\xa9@x>")),
    ("Precedence", (b"bulk", b"\x00")),
    ("MIME-Version", (b"2.0", b"1.0 (\x00)")),
)


def garbage_header(raw: bytes, rnd: random.Random) -> bytes:
    name, values = rnd.choice(_GARBAGE_HEADERS)
    return _set_header(raw, name, rnd.choice(values))


def line_endings(raw: bytes, rnd: random.Random) -> bytes:
    if rnd.random() < 0.5:
        return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    return raw.replace(b"\r\n", b"\n").replace(b"\n", rnd.choice((b"\r\n", b"\n\r", b"\n")))


MUTATIONS: tuple[tuple[str, Callable[[bytes, random.Random], bytes]], ...] = (
    ("flip", flip_bytes),
    ("truncate", truncate),
    ("delete-header", delete_header),
    ("duplicate-header", duplicate_header),
    ("odd-charset", odd_charset),
    ("encoded-word", encoded_word),
    ("nul", nul_bytes),
    ("deep-nesting", deep_nesting),
    ("many-parts", many_parts),
    ("huge-line", huge_line),
    ("hostile-from", hostile_from),
    ("raw-8bit-header", raw_8bit_header),
    ("garbage-header", garbage_header),
    ("line-endings", line_endings),
)


def unique_message_id(raw: bytes, case: int) -> bytes:
    """Give the seed a Message-ID of its own, so the case is processed, not a duplicate."""
    return _set_header(raw, "Message-ID", f"<fuzz-{case}@fuzz.example>".encode())


@dataclass(frozen=True)
class Case:
    raw: bytes
    seed: str
    mutations: tuple[str, ...]


def make_case(seeds: Sequence[Seed], rnd: random.Random, case: int) -> Case:
    """One fuzz case: a seed (with a Message-ID of its own) and one to four mutations."""
    seed = rnd.choice(seeds)
    raw = unique_message_id(seed.make(rnd), case)
    applied: list[str] = []
    for _ in range(rnd.choice((1, 1, 1, 2, 2, 3, 4))):
        name, mutation = rnd.choice(MUTATIONS)
        raw = mutation(raw, rnd)
        applied.append(name)
    return Case(raw, seed.name, tuple(applied))


def baseline_case(seeds: Sequence[Seed], rnd: random.Random, case: int) -> Case:
    """An unmutated seed, for the baseline cost measured beside the fuzz cases."""
    seed = rnd.choice(seeds)
    return Case(unique_message_id(seed.make(rnd, hostile=False), case), seed.name, ())
