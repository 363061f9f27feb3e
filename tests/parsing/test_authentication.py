"""Reading our receiving host's Authentication-Results, classifying on headers alone, and
the excerpt a notice may repeat: pure functions, over the messages in
``tests/corpus/hostile/`` (see its SOURCES.md) and header values written as receivers write
them."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest

from mailcapture.mailflow.replies import excerpt
from mailcapture.parsing.addressing import AuthVerdict, read_authentication
from mailcapture.parsing.classify import Kind, classify_headers, decode_headers, header_section
from mailcapture.parsing.mime import decode_message

HOSTILE = Path(__file__).resolve().parents[1] / "corpus" / "hostile"
OURS = "mx.ashdown.example"


def ar_headers(name: str) -> list[tuple[str, str]]:
    """The Authentication-Results headers of a stored message, as the decoder hands them on."""
    raw = (HOSTILE / name).read_bytes()
    return [(n, v) for n, v in decode_message(raw).headers if n.lower() == "authentication-results"]


@pytest.mark.parametrize(
    "name",
    [
        "dmarc_fail_trailing_semicolon.eml",
        "dmarc_fail_empty_reason.eml",
        "dmarc_fail_microsoft.eml",
        "dmarc_fail_folded_comments_case.eml",
    ],
)
def test_every_dmarc_fail_spelling_from_our_host_is_a_fail(name: str) -> None:
    headers = ar_headers(name)
    assert headers, "the stored message has its Authentication-Results header"
    verdict = read_authentication(headers, OURS)
    assert verdict.verdict is AuthVerdict.FAIL, verdict
    assert not verdict.vouches_for("kevin.walsh@ashdown.example")


def test_a_header_from_our_host_that_cannot_be_read_is_unreadable() -> None:
    verdict = read_authentication(ar_headers("auth_unreadable.eml"), OURS)
    assert verdict.verdict is AuthVerdict.UNREADABLE
    assert verdict.detail.startswith("unreadable authentication result from mx.ashdown.example")


def test_headers_from_other_hosts_count_for_nothing() -> None:
    verdict = read_authentication(ar_headers("auth_other_host_fail.eml"), OURS)
    assert verdict.verdict is AuthVerdict.NONE and verdict.results == ()


def test_without_an_authserv_id_nothing_is_believed() -> None:
    verdict = read_authentication(ar_headers("dmarc_fail_trailing_semicolon.eml"), None)
    assert verdict.verdict is AuthVerdict.NONE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # The lenient reader: trailing and doubled ";", empty quoted values, comments
        # glued to values, odd case, whitespace folded anywhere.
        ('mx.ashdown.example; dmarc=pass reason="" header.from=partner.example;;', "pass"),
        ("MX.ASHDOWN.EXAMPLE; DMARC=Pass(p=REJECT) Header.From=partner.example;", "pass"),
        ("mx.ashdown.example;\r\n\tspf=pass smtp.mailfrom=jo@partner.example;", "none"),
        ("mx.ashdown.example 1; none", "none"),
        ("mx.ashdown.example; dmarc=fail", "fail"),
        ('mx.ashdown.example; dmarc = "FAIL" header.from=x.example', "fail"),
        ("mx.ashdown.example; dkim=pass (sig (nested) ok) header.d=x.example; dmarc", "unreadable"),
        ("mx.ashdown.example; spf=pass smtp.mailfrom=x.example (unbalanced", "pass-or-unreadable"),
    ],
)
def test_the_lenient_reader(value: str, expected: str) -> None:
    verdict = read_authentication([("Authentication-Results", value)], OURS).verdict
    if expected == "pass-or-unreadable":  # authres takes it; our own reader would not
        assert verdict in (AuthVerdict.NONE, AuthVerdict.UNREADABLE)
    else:
        assert verdict.value == expected


@pytest.mark.parametrize(
    ("name", "address", "vouched"),
    [
        ("stranger_vouched_dmarc_pass.eml", "jo@partner.example", True),
        ("stranger_vouched_spf_pass.eml", "jo@partner.example", True),
        ("stranger_vouched_spf_pass.eml", "someone@elsewhere.example", False),
        ("stranger_pass_for_other_domain.eml", "victim@partner.example", False),
        ("auth_other_host_fail.eml", "kevin.walsh@ashdown.example", False),
    ],
)
def test_our_host_vouches_only_for_the_domain_it_checked(
    name: str, address: str, vouched: bool
) -> None:
    assert read_authentication(ar_headers(name), OURS).vouches_for(address) is vouched


def test_a_forged_pass_beside_our_hosts_real_verdict_does_not_vouch() -> None:
    """Every result our host gave for the method must pass: a forged ``dmarc=pass`` copied
    into the message below our host's real ``dmarc=none`` is not believed."""
    headers = [
        ("Authentication-Results", "mx.ashdown.example; dmarc=none header.from=partner.example"),
        ("Authentication-Results", "mx.ashdown.example; dmarc=pass header.from=partner.example"),
    ]
    assert not read_authentication(headers, OURS).vouches_for("jo@partner.example")


def test_header_section_reads_only_the_headers() -> None:
    raw = (HOSTILE / "dsn_600_parts.eml").read_bytes()
    head = header_section(raw)
    assert head.startswith(b"Return-Path: <>") and b"attached part" not in head
    assert header_section(b"Subject: x\r\n" + b"X-Long: " + b"a" * 500_000, 1000).endswith(b"\n")
    assert len(header_section(b"Subject: x\r\n" + b"X: " + b"a" * 500_000, 1000)) <= 1001


@pytest.mark.parametrize(
    ("name", "kind", "rule"),
    [
        ("dsn_600_parts.eml", Kind.BOUNCE, "headers:multipart/report=delivery-status"),
        ("autoreply_nested_25.eml", Kind.AUTO_REPLY, "header:Auto-Submitted=auto-replied"),
        ("forged_stranger_spam.eml", Kind.HUMAN, "headers:human"),
    ],
)
def test_robots_are_known_by_their_headers_alone(name: str, kind: Kind, rule: str) -> None:
    raw = (HOSTILE / name).read_bytes().replace(b"@FROM@", b"victim1@v.example")
    verdict = classify_headers(decode_headers(raw))
    assert (verdict.kind, verdict.rule) == (kind, rule)


@pytest.mark.parametrize(
    ("headers", "rule"),
    [
        ("Return-Path: <>\nFrom: someone@x.example\nSubject: hello\n", "headers:null-sender"),
        ("From: MAILER-DAEMON@x.example\nSubject: hello\n", "headers:daemon-from"),
        ("From: a@x.example\nSubject: Undeliverable: April\n", "headers:failure-subject"),
        ("From: a@x.example\nSubject: hi\nPrecedence: bulk\n", "header:Precedence=bulk"),
        ("From: a@x.example\nSubject: hi\nList-Id: <l.x.example>\n", "headers:List-Id"),
        ("From: a@x.example\nSubject: Out of Office: away\n", "subject:out of office (en)"),
        (
            "From: a@x.example\nSubject: read\nContent-Type: multipart/report; "
            "report-type=disposition-notification; boundary=b\n",
            "mdn:disposition-notification",
        ),
    ],
)
def test_each_robot_sign_in_the_headers(headers: str, rule: str) -> None:
    raw = (headers + "\n" + "x" * 100).encode()
    envelope = "" if "Return-Path: <>" in headers else None
    assert classify_headers(decode_headers(raw), envelope).rule == rule


def test_a_person_replying_is_human_on_headers() -> None:
    raw = b"From: Kevin <kevin.walsh@ashdown.example>\nSubject: Re: April figures\n\nBV8a.1: 1\n"
    assert classify_headers(decode_headers(raw), "kevin.walsh@ashdown.example").kind is Kind.HUMAN


def test_excerpt_repeats_no_link_no_control_character_and_at_most_40_characters() -> None:
    msg = message_from_bytes((HOSTILE / "forged_stranger_spam.eml").read_bytes(), policy=compat32)
    subject = str(msg["Subject"])
    short = excerpt(subject)
    assert len(short) <= 40 and "http" not in short and "spam.example" not in short
    assert short.startswith("CHEAP PILLS [link]")
    assert excerpt("a\u202eb\u200bc\x00d\r\ne") == "abc d e"
    assert excerpt("write to jo@partner.example") == "write to [address]"
    assert excerpt("see www.spam.example or spam.example/x or 192.0.2.1") == (
        "see [link] or [link] or [link]"
    )
    assert excerpt("BV8a.1 figures, e.g. for Q1") == "BV8a.1 figures, e.g. for Q1"
