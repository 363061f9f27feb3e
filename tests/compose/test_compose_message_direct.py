"""The direct route of ``build_message`` against the email package it stands in for.

``build_message`` writes messages itself (``_build_direct``), attachments included, for
speed; ``_build_with_email_package`` builds them with ``EmailMessage`` and is the
reference. Every message here is built both ways from the same random state, so even the
MIME boundaries agree and the bytes must be identical; built again from different random
states, they must be identical once the boundaries are normalised (as
``benchmarks/requests.py`` compares them); and ``email.message_from_bytes`` must read the
direct bytes into the same tree, with each attachment decoding to exactly its data.
Refusals must be the same too: the same exception with the same words.

The direct route is checked to be the one taken (the email package is made to fail while
``build_message`` runs), except for what is documented to stay on the email package:
multipart/* and message/* attachments.
"""

from __future__ import annotations

import email
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, timedelta, timezone
from email.message import Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcapture.compose import message as compose_message
from mailcapture.compose.message import Attachment, Envelope, InlineImage, build_message
from mailcapture.compose.render import Rendered, render
from mailcapture.compose.textfmt import one_line
from mailcapture.compose.views import Council, FormItem, ItemFigures, Person, RequestView
from mailcapture.compose.workbook import XLSX_SUBTYPE, form_attachments, request_workbook
from tests.compose.samples import ASCII as TEXT
from tests.compose.samples import ENVELOPE, ITEMS, NOW

COUNCIL = Council("Ashdown District Council", "performance@ashdown.example")
_BOUNDARY = re.compile(rb'boundary="([^"]+)"')
_REFERENCE = compose_message._build_with_email_package


@pytest.fixture(autouse=True)
def direct_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``build_message`` may not fall back on the email package unless a test allows it."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("build_message took the email package's route")

    monkeypatch.setattr(compose_message, "_build_with_email_package", refuse)
    yield


def normal(raw: bytes) -> bytes:
    """``raw`` with each boundary replaced by its rank of first appearance."""
    for rank, boundary in enumerate(dict.fromkeys(_BOUNDARY.findall(raw))):
        raw = raw.replace(boundary, b"BOUNDARY-%d" % rank)
    return raw


def outcome(build: Callable[[], bytes]) -> bytes | tuple[type[BaseException], str]:
    try:
        return build()
    except Exception as exc:  # compared: the same refusal both ways
        return type(exc), str(exc)


def both(
    rendered: Rendered = TEXT,
    attachments: Sequence[Attachment] = (),
    envelope: Envelope = ENVELOPE,
    images: Sequence[InlineImage] = (),
) -> tuple[bytes | tuple[type[BaseException], str], bytes | tuple[type[BaseException], str]]:
    """The message built directly and by the email package, from the same random state."""
    state = random.getstate()
    direct = outcome(lambda: build_message(envelope, rendered, NOW, images, attachments))
    random.setstate(state)
    reference = outcome(lambda: _REFERENCE(envelope, rendered, NOW, images, attachments))
    return direct, reference


def tree(raw: bytes) -> list[tuple[object, ...]]:
    """What a reader sees: each part's headers (boundaries normalised), type, file name
    and decoded payload, in order."""
    parsed = email.message_from_bytes(raw)
    assert not parsed.defects
    out: list[tuple[object, ...]] = []
    for part in parsed.walk():
        assert not part.defects
        headers = [
            (k, _BOUNDARY.sub(b'boundary="B"', v.encode()).decode()) for k, v in part.items()
        ]
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        kind = part.get_content_type(), part.get_filename(), part.get_param("charset")
        out.append((headers, *kind, payload))
    return out


def attachment_parts(raw: bytes) -> list[Message]:
    parsed = email.message_from_bytes(raw)
    return [p for p in parsed.walk() if p.get_content_disposition() == "attachment"]


def check(
    rendered: Rendered = TEXT,
    attachments: Sequence[Attachment] = (),
    envelope: Envelope = ENVELOPE,
    images: Sequence[InlineImage] = (),
) -> bytes:
    """Identical bytes from one random state, identical once boundaries are normalised
    from another, the same parsed tree, and each attachment's data back exactly."""
    direct, reference = both(rendered, attachments, envelope, images)
    assert isinstance(direct, bytes), direct
    assert direct == reference
    again = _REFERENCE(envelope, rendered, NOW, images, attachments)  # other boundaries
    assert normal(direct) == normal(again)
    assert tree(direct) == tree(again)
    found = attachment_parts(direct)
    assert [p.get_payload(decode=True) or b"" for p in found] == [a.data for a in attachments]
    assert direct.isascii()
    assert b"\n" not in direct.replace(b"\r\n", b"")
    return direct


def xlsx(filename: str, data: bytes) -> Attachment:
    return Attachment(filename, data, "application", XLSX_SUBTYPE)


# ------------------------------------------------------------------ the request's workbook


def request_view(name: str, email_address: str, items: tuple[FormItem, ...]) -> RequestView:
    return RequestView(
        COUNCIL,
        Person(name, email_address),
        "2026-04",
        "April 2026",
        "K7Q2ZP",
        "Friday 15 May 2026, 5pm",
        items,
    )


PEOPLE = [
    ("Sam Lee", "sam.lee@ashdown.example"),
    ("Zoë O'Brien", "zoe@ashdown.example"),
    ("Siobhán Ní Bhriain-Ó Súilleabháin", "siobhan@ashdown.example"),
    ("Bartholomew Christopher Montgomery-Featherstonehaugh", "bart@ashdown.example"),
    ("", "no.name@ashdown.example"),
    ("山田 太郎", "yamada@ashdown.example"),
]


@pytest.mark.parametrize(("name", "address"), PEOPLE)
@pytest.mark.parametrize("with_figures", [False, True])
def test_request_with_its_workbook_as_the_outbox_queues_it(
    name: str, address: str, with_figures: bool
) -> None:
    """Built the way ``queue_email`` builds a request: the workbook, then the words that
    name it, then the message."""
    items: tuple[FormItem, ...] = ITEMS
    if with_figures:
        items = tuple(replace(i, figures=ItemFigures(low=None, high=None)) for i in items)
    view = request_view(name, address, items)
    attachments = form_attachments("request", view)
    view = replace(view, workbook=attachments[0].filename)
    rendered = render("request", view)
    envelope = replace(ENVELOPE, to=address, to_name=name or None)
    raw = check(rendered, attachments, envelope)
    parts = list(email.message_from_bytes(raw).walk())
    assert [p.get_content_type() for p in parts] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        f"application/{XLSX_SUBTYPE}",
    ]
    assert parts[-1].get_payload(decode=True) == request_workbook(view)


# ------------------------------------------------------------------ generated attachments

#: File names around each way the stdlib writes the Content-Disposition header: one line
#: (ASCII up to 78 characters, non-ASCII under 78), the parameter on a line of its own,
#: RFC 2231 sections, and the names it writes itself (controls, empty).
NAMES = [
    "return-2026-04-sam-lee.xlsx",
    "a" * 33,
    "a" * 34,
    "a" * 35,
    "a" * 65,
    "a" * 66,
    "a" * 200,
    "café.xlsx",
    "é" + "a" * 21,
    "é" + "a" * 22,
    "é" * 7,
    "é" * 8,
    "é" * 60,
    "Zoë O'Brien's return (April) 2026.xlsx",
    'quote " and back\\slash.txt',
    "  spaced  out  .txt",
    "semi;colon=equals,comma.txt",
    "%41 looks escaped.txt",
    "=?utf-8?q?encoded?=.txt",
    "tab\there.txt",
    "control\x01char.txt",
    "del\x7f.txt",
    "nul\x00é.txt",
    "emoji \U0001f600.png",
    "\u00a0no-break\u200bspace.txt",
    "",
]
SIZES = [0, 1, 2, 3, 56, 57, 58, 114, 6_000]
TYPES = [
    ("application", XLSX_SUBTYPE),
    ("application", "octet-stream"),
    ("application", "pdf"),
    ("text", "csv"),
    ("image", "png"),
    ("Application", "X-Custom+Type.v1"),
]


@pytest.mark.parametrize("filename", NAMES)
@pytest.mark.parametrize("size", SIZES)
def test_one_attachment_of_any_name_and_size(filename: str, size: int) -> None:
    data = random.Random(f"{filename}{size}").randbytes(size)
    check(TEXT, [xlsx(filename, data)])


@pytest.mark.parametrize(("maintype", "subtype"), TYPES)
def test_attachment_types(maintype: str, subtype: str) -> None:
    check(TEXT, [Attachment("data.bin", b"\x00\xff" * 100, maintype, subtype)])


def test_several_attachments_empty_and_large() -> None:
    rng = random.Random(7)
    attachments = [
        xlsx("return-2026-04-sam-lee.xlsx", rng.randbytes(7_000)),
        Attachment("empty.txt", b"", "text", "plain"),
        Attachment("données été.csv", "a,b\r\nç,€\r\n".encode(), "text", "csv"),
        Attachment("large.bin", rng.randbytes(3_000_001), "application", "octet-stream"),
        Attachment("a" * 80 + ".bin", b"x", "application", "octet-stream"),
    ]
    check(TEXT, attachments)


@pytest.mark.parametrize(
    "rendered",
    [
        TEXT,
        Rendered("Relevé de performance — avril 2026 [MC-K7Q2ZP]", "Chère Zoë,\n", "<p>é</p>\n"),
        Rendered("A long subject " * 12 + "[MC-K7Q2ZP]", "x" * 200 + "\n", "<p>" + "y" * 90 + "\n"),
        Rendered("=?utf-8?q?looks_encoded?=", "Line with trailing space \n", "tab\t\n"),
        Rendered("S", "=3D and --===============1==\n", "<p>=</p>\n"),
    ],
)
def test_subjects_and_texts_with_an_attachment(rendered: Rendered) -> None:
    check(rendered, [xlsx("return-2026-04-zoe-obrien.xlsx", b"PK\x03\x04" * 500)])


@pytest.mark.parametrize(
    "envelope",
    [
        replace(ENVELOPE, to_name="Zoë O'Brien", reply_to=None),
        replace(ENVELOPE, to_name='Quoted "Name", Jr.', auto_submitted="auto-replied"),
        replace(
            ENVELOPE,
            in_reply_to="<parent@ashdown.example>",
            references=("<root@ashdown.example>", "<parent@ashdown.example>"),
        ),
        replace(ENVELOPE, from_header="Équipe Performance <performance@ashdown.example>"),
    ],
)
def test_envelopes_with_an_attachment(envelope: Envelope) -> None:
    check(TEXT, [xlsx("return.xlsx", b"\x01" * 300)], envelope)


def test_dates_in_other_zones() -> None:
    for now in (NOW.astimezone(UTC), NOW.astimezone(timezone(timedelta(hours=-5, minutes=-30)))):
        attachments = [xlsx("r.xlsx", b"z" * 10)]
        state = random.getstate()
        direct = build_message(ENVELOPE, TEXT, now, attachments=attachments)
        random.setstate(state)
        assert direct == _REFERENCE(ENVELOPE, TEXT, now, (), attachments)


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "attachment",
    [
        Attachment("a.txt", b"x", "text plain", "csv"),
        Attachment("a.txt", b"x", "text", "csv/x"),
        Attachment("a.txt", b"x", "", "csv"),
        Attachment("two\nlines.txt", b"x", "text", "plain"),
        Attachment("cr\r.txt", b"x", "text", "plain"),
        Attachment("form\x0cfeed.txt", b"x", "text", "plain"),
        Attachment("lone \ud800 surrogate.txt", b"x", "text", "plain"),
    ],
)
def test_the_same_refusals(attachment: Attachment) -> None:
    direct, reference = both(TEXT, [attachment])
    assert isinstance(reference, tuple)
    assert direct == reference


# ------------------------------------------------------------------ still the email package


@pytest.mark.parametrize(("maintype", "subtype"), [("multipart", "mixed"), ("message", "rfc822")])
def test_container_types_stay_on_the_email_package(
    maintype: str, subtype: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generator writes these as containers, not base64 leaves: no direct copy."""
    monkeypatch.setattr(compose_message, "_build_with_email_package", _REFERENCE)
    attachments = [Attachment("x.eml", b"Subject: hi\r\n\r\nbody\r\n", maintype, subtype)]
    assert not compose_message._direct_attachments(attachments)
    direct, reference = both(TEXT, attachments)
    assert direct == reference


# ------------------------------------------------------------------ images, extra headers

CHARTS = [
    InlineImage("chart-1@reports.ashdown.example", b"\x89PNG\r\n" * 40, "png", "chart-1.png"),
    InlineImage("<chart-2@x>", b"", "svg+xml", "Graphique été – avril.svg"),
    InlineImage("c3@x", random.Random(3).randbytes(20_000), "png", "c" * 90 + ".png"),
]


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("with_attachment", [False, True])
def test_inline_images(count: int, with_attachment: bool) -> None:
    attachments = [xlsx("return.xlsx", b"\x02" * 99)] if with_attachment else []
    raw = check(TEXT, attachments, ENVELOPE, CHARTS[:count])
    kinds = [p.get_content_type() for p in email.message_from_bytes(raw).walk()]
    related = ["multipart/related", "text/html"] + [f"image/{i.subtype}" for i in CHARTS[:count]]
    mixed = ["multipart/mixed"] if with_attachment else []
    files = [f"application/{XLSX_SUBTYPE}"] if with_attachment else []
    assert kinds == [*mixed, "multipart/alternative", "text/plain", *related, *files]


@pytest.mark.parametrize(
    "extra",
    [
        (("X-Campaign", "april"),),
        (("List-Id", "Returns <returns.ashdown.example>"), ("X-Note", "Relevé été " * 12)),
        (("X-Long", "word " * 40),),
    ],
)
@pytest.mark.parametrize("with_attachment", [False, True])
def test_extra_headers(extra: tuple[tuple[str, str], ...], with_attachment: bool) -> None:
    attachments = [xlsx("return.xlsx", b"\x03" * 10)] if with_attachment else []
    check(TEXT, attachments, replace(ENVELOPE, extra_headers=extra))


@pytest.mark.parametrize("subtype", ["mixed", "alternative", "related", "x-very-long-subtype"])
@pytest.mark.parametrize("suffix", ["", ".0", ".12", "." + "9" * 40])
def test_multipart_content_type_is_folded_as_the_stdlib_folds_it(subtype: str, suffix: str) -> None:
    """Including the boundaries lengthened by a collision, which no test can provoke."""
    boundary = f"{'=' * 15}{1234567890123456789}=={suffix}"
    value = f'multipart/{subtype}; boundary="{boundary}"'
    _, header = compose_message._POLICY.header_store_parse("Content-Type", value)
    expected = compose_message._POLICY.fold_binary("Content-Type", header).decode("ascii")
    assert compose_message._multipart_type(subtype, boundary) == expected


@pytest.mark.parametrize(
    "image",
    [
        InlineImage("", b"x", "png", "a.png"),
        InlineImage("a b@x", b"x", "png", "a.png"),
        InlineImage("c@x", b"x", "png/x", "a.png"),
    ],
)
def test_the_same_refusals_for_images(image: InlineImage) -> None:
    direct, reference = both(TEXT, [xlsx("r.xlsx", b"")], ENVELOPE, [image])
    assert isinstance(reference, tuple)
    assert direct == reference


# ------------------------------------------------------------------ property

names = st.text(st.characters(blacklist_characters="\r\n"), max_size=90)
datas = st.binary(max_size=400)
subjects = st.text(max_size=120).map(one_line).filter(lambda s: s and "=?" not in s)


@settings(
    max_examples=300,
    deadline=None,
    # direct_only only swaps a module attribute: the same for every example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.tuples(names, datas, st.sampled_from(TYPES)), min_size=1, max_size=3),
    subjects,
    st.text(max_size=40).map(one_line),
    st.lists(st.tuples(names, datas), max_size=2),
)
def test_any_attachments_build_the_same_both_ways(
    specs: list[tuple[str, bytes, tuple[str, str]]],
    subject: str,
    to_name: str,
    charts: list[tuple[str, bytes]],
) -> None:
    attachments = [Attachment(name, data, *types) for name, data, types in specs]
    images = [InlineImage(f"c{n}@x", data, "png", name) for n, (name, data) in enumerate(charts)]
    envelope = replace(ENVELOPE, to_name=to_name or None)
    direct, reference = both(replace(TEXT, subject=subject), attachments, envelope, images)
    assert direct == reference
    if isinstance(direct, bytes):
        found = attachment_parts(direct)
        assert [p.get_payload(decode=True) or b"" for p in found] == [a.data for a in attachments]
