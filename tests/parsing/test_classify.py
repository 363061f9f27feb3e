"""Classifying the corpus: every auto-reply, bounce and human reply, with the rule that fired."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from mailcapture.parsing.classify import Classification, Kind, classify, find_return_date
from mailcapture.parsing.mime import decode_message

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def classify_bytes(raw: bytes, envelope_sender: str | None = None) -> Classification:
    return classify(decode_message(raw), raw, envelope_sender)


def classify_file(name: str, envelope_sender: str | None = None) -> Classification:
    return classify_bytes((CORPUS / name).read_bytes(), envelope_sender)


def names(folder: str) -> list[str]:
    return sorted(p.name for p in (CORPUS / folder).glob("*.eml"))


AUTO = {
    "aol_vacation_automatic_response.eml": "header:Auto-Submitted=auto-replied",
    "autoreply_auto_submitted_away_until.eml": "header:Auto-Submitted=auto-replied",
    "autoreply_null_sender_qp_utf8.eml": "header:Auto-Submitted=auto-replied",
    "challenge_response_bluebottle_re_subject.eml": "challenge-response:bluebottle",
    "challenge_response_boxbe_waitlisted.eml": "challenge-response:boxbe",
    "exchange_automatic_reply_windows1252_qp.eml": "subject:automatic reply (en)",
    "gmail_auto_submitted_auto_generated_sieve.eml": "header:Auto-Submitted=auto-generated",
    "lotus_notes_auto_out_of_office.eml": "subject:lotus notes auto (en)",
    "mimecast_autoresponse_mailbox_no_longer_used.eml": "header:Auto-Submitted=auto-replied",
    "read_receipt_mdn_disposition_notification.eml": "mdn:disposition-notification",
}


# Feedback reports and complaint notices (issue 13): (rule, feedback type, reported
# Message-ID, reported From, reported recipient).
COMPLAINTS: dict[str, tuple[str, str, str | None, str | None, str | None]] = {
    "arf_abuse_fw_subject_rfc5965_style.eml": (
        "arf:abuse",
        "abuse",
        "ffffffffffffffffffffffffff0000000000@example.net",
        "shironeko@example.net",
        None,  # "To: <Undisclosed Recipients>", no Original-Rcpt-To
    ),
    "arf_dmarc_auth_failure_report.eml": (
        "arf:auth-failure",
        "auth-failure",
        "000000000.2222222.0000000000002@example.net",
        "sironeko@example.net",
        "kijitora@example.org",
    ),
    "arf_terra_returnpath_feedback_report.eml": (
        "arf:abuse",
        "abuse",
        "f6fbba8a761ce682e1b00a323a21b372@example.net",
        "fake.sender@example.net",
        None,  # 'To: "undisclosed Terra recipient"'
    ),
    "complaint_hotmail_jmrp_multipart_mixed.eml": (
        "complaint:jmrp",
        "abuse",
        "0000000000fffffffff0000000000000@example.com",
        "sironeko@example.com",
        "kijitora@example.com",
    ),
}


def test_auto_table_covers_the_folder() -> None:
    assert sorted([*AUTO, *COMPLAINTS]) == names("auto")


@pytest.mark.parametrize(("name", "expected"), sorted(COMPLAINTS.items()))
def test_complaints(
    name: str, expected: tuple[str, str, str | None, str | None, str | None]
) -> None:
    rule, feedback_type, message_id, sender, recipient = expected
    result = classify_file(f"auto/{name}")
    assert result.kind is Kind.COMPLAINT
    assert result.rule == rule
    assert result.feedback_type == feedback_type
    assert result.is_complaint is (feedback_type != "auth-failure")
    assert (result.reported_message_id, result.reported_from) == (message_id, sender)
    assert result.reported_recipient == recipient
    assert result.failed_recipients == () and result.temporary is False


@pytest.mark.parametrize(("name", "rule"), sorted(AUTO.items()))
def test_auto_replies(name: str, rule: str) -> None:
    result = classify_file(f"auto/{name}")
    assert result.kind is Kind.AUTO_REPLY
    assert result.rule == rule
    assert result.failed_recipients == () and result.temporary is False


RETURN_DATES = {
    "aol_vacation_automatic_response.eml": date(2010, 7, 5),  # "away until 05/07/2010", UK
    "autoreply_auto_submitted_away_until.eml": date(2005, 5, 5),  # "Away until May 5"
    "lotus_notes_auto_out_of_office.eml": date(2010, 1, 5),  # "(returning 05/01/2010)"
    "exchange_automatic_reply_windows1252_qp.eml": None,  # "traveling ... on July 10-31"
    "mimecast_autoresponse_mailbox_no_longer_used.eml": None,
}


@pytest.mark.parametrize(("name", "expected"), sorted(RETURN_DATES.items()))
def test_auto_reply_return_date(name: str, expected: date | None) -> None:
    assert classify_file(f"auto/{name}").return_date == expected


# (rule, permanently failed recipients, temporary)
BOUNCES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "amazon_ses_dsn_failure.eml": ("dsn:multipart/report", ("shironeko@example.co.jp",), False),
    "barracuda_dsn_blocked_5.7.1.eml": ("dsn:multipart/report", ("kijitora@example.net",), False),
    "dsn_delayed_action_4.4.0.eml": ("dsn:multipart/report", (), True),
    "exchange2003_undeliverable_text.eml": (
        "flufl.bounce",
        ("kijitora@example.jp",),
        False,
    ),
    "exchange2007_dsn_recipnotfound.eml": (
        "dsn:multipart/report",
        ("mikeneko@example.co.jp",),
        False,
    ),
    "exchange55_ims_undeliverable.eml": (
        "flufl.bounce",
        ("recipient@example.net",),
        False,
    ),
    "exim_mail_delivery_failed_text.eml": ("flufl.bounce", ("kijitora@example.ed.jp",), False),
    "gmail_dsn_failure_text.eml": ("flufl.bounce", ("userunknown@example.jp",), False),
    "gmx_mail_delivery_failed.eml": ("flufl.bounce", ("shironeko@example.jp",), False),
    "hotmail_outlook_dsn_mailbox_full.eml": (
        "dsn:multipart/report",
        ("kijitora@example.jp",),
        False,
    ),
    "iis_smtp_dsn_utf7_charset.eml": (
        "dsn:multipart/report",
        tuple(f"bounced{i}@example.net" for i in range(1, 5)),
        False,
    ),
    "lotus_notes_iso2022jp_undeliverable.eml": (
        "weak:null-sender+daemon-from+failure-subject",
        ("kijitora@u1.example.co.jp",),
        False,
    ),
    "mailru_russian_base64_subject.eml": ("flufl.bounce", ("kijitora@example.jp",), False),
    "novell_groupwise_undeliverable.eml": (
        "weak:daemon-from+failure-subject+failure-text",
        ("recipient@example.net",),
        False,
    ),
    "null_sender_invalid_user_auto_submitted.eml": (
        "weak:null-sender+empty-from+failure-text",
        (),  # "You sent mail to a@b.c": not a routable address, so not reported
        False,
    ),
    "office365_ndr_undeliverable.eml": ("ndr:exchange", ("kijitora@example.com",), False),
    "postfix_dsn_5.1.1_procmail.eml": ("dsn:multipart/report", ("kijitora@example.org",), False),
    "sendmail_delay_warning_4h.eml": ("dsn:multipart/report", (), True),
    "sendmail_dsn_user_unknown.eml": (
        "dsn:multipart/report",
        ("userunknown@bouncehammer.jp",),
        False,
    ),
    # Issue 13: bounce signs that were missed, and a DSN that lost to X-Autogenerated.
    "dsn_precedence_bulk_autogenerated_local_recipient.eml": (
        "dsn:message/delivery-status (failed, recipient unreadable)",
        (),  # "Final-Recipient: rfc822; pthompson": no address to mark
        False,
    ),
    "exchange_de_unzustellbar_text.eml": (
        "weak:daemon-from+failure-subject",
        ("m.muller@example.de",),
        False,
    ),
    "exchange_es_no_se_puede_entregar_text.eml": (
        "weak:daemon-from+failure-subject",
        ("m.muller@example.es",),
        False,
    ),
    "exchange_fr_non_remis_text.eml": (
        "weak:daemon-from+failure-subject",
        ("m.muller@example.fr",),
        False,
    ),
    "exchange_nl_onbestelbaar_text.eml": (
        "weak:daemon-from+failure-subject",
        ("m.muller@example.nl",),
        False,
    ),
    "post_master_mail_could_not_be_delivered.eml": (
        "flufl.bounce",
        ("a.jones@example.com",),
        False,
    ),
    "postfix_errors_from_smtp_transcript.eml": ("postfix:errors-from", (), False),
    "postmaster_re_subject_recipient_rejected.eml": (
        "flufl.bounce",
        ("j.smith@example.net",),
        False,
    ),
}


def test_bounce_table_covers_the_folder() -> None:
    assert sorted(BOUNCES) == names("bounces")


@pytest.mark.parametrize(("name", "expected"), sorted(BOUNCES.items()))
def test_bounces(name: str, expected: tuple[str, tuple[str, ...], bool]) -> None:
    rule, failed, temporary = expected
    result = classify_file(f"bounces/{name}")
    assert result.kind is Kind.BOUNCE
    assert result.rule == rule
    assert result.failed_recipients == failed
    assert result.temporary is temporary
    assert result.return_date is None


@pytest.mark.parametrize(
    ("name", "only_in_original"),
    [
        ("bounces/gmail_dsn_failure_text.eml", "mailboxfull@example.jp"),
        ("bounces/iis_smtp_dsn_utf7_charset.eml", "validaddress@example.net"),
        ("bounces/lotus_notes_iso2022jp_undeliverable.eml", "kijitora@example.co.jp"),
        ("bounces/postfix_dsn_5.1.1_procmail.eml", "r@p351355.pool.example.ne.jp"),
        ("bounces/exchange2007_dsn_recipnotfound.eml", "kijitora@example.jp"),
    ],
)
def test_addresses_of_the_quoted_original_are_not_failed(name: str, only_in_original: str) -> None:
    raw = (CORPUS / name).read_bytes()
    assert only_in_original.encode() in raw.lower()
    result = classify_bytes(raw)
    assert result.kind is Kind.BOUNCE and result.failed_recipients
    assert only_in_original not in result.failed_recipients


def test_delay_warnings_are_temporary_bounces() -> None:
    for name in ("dsn_delayed_action_4.4.0.eml", "sendmail_delay_warning_4h.eml"):
        result = classify_file(f"bounces/{name}")
        assert (result.kind, result.temporary, result.failed_recipients) == (Kind.BOUNCE, True, ())
    mailsite = classify_file("malformed/dsn_mailsite_truncated_rfc822_headers.eml")
    assert (mailsite.kind, mailsite.temporary) == (Kind.BOUNCE, True)  # failed + 4.2.2


HUMAN = [n for n in names("replies")]


@pytest.mark.parametrize("name", HUMAN)
def test_human_replies(name: str) -> None:
    result = classify_file(f"replies/{name}")
    assert result == Classification(Kind.HUMAN, "default:human")


@pytest.mark.parametrize(
    "name",
    [
        "replies/exchange55_reply_iso8859-1_qp_umlaut.eml",
        "replies/outlook_com_2023_with_attached_message_rfc822.eml",
        "replies/outlook_web_access_2010_html_only.eml",
    ],
)
def test_x_auto_response_suppress_does_not_make_an_auto_reply(name: str) -> None:
    # Outlook stamps this on ordinary mail; the corpus' Exchange/Outlook replies lack it, so it
    # is added here the way Outlook writes it.
    raw = b"X-Auto-Response-Suppress: All\r\n" + (CORPUS / name).read_bytes()
    msg = decode_message(raw)
    assert msg.header("X-Auto-Response-Suppress") == "All"
    assert classify(msg, raw) == Classification(Kind.HUMAN, "default:human")
    also_oof = b"X-Auto-Response-Suppress: DR, OOF, AutoReply\r\n" + (CORPUS / name).read_bytes()
    assert classify_bytes(also_oof).kind is Kind.HUMAN


@pytest.mark.parametrize("path", sorted(CORPUS.glob("malformed/*.eml")), ids=lambda p: p.name)
def test_malformed_samples_classify(path: Path) -> None:
    result = classify_bytes(path.read_bytes())
    assert isinstance(result.kind, Kind) and result.rule


def test_no_readable_text_is_unknown() -> None:
    result = classify_file("malformed/octet_stream_body_gbk_filename.eml")
    assert result == Classification(Kind.UNKNOWN, "default:unknown")


# -- synthetic messages ----------------------------------------------------------------------


def message(headers: str, body: str) -> bytes:
    base = "From: Jane Smith <jane.smith@council.gov.uk>\nTo: returns@mailcapture.example\n"
    return (base + headers.strip() + "\n\n" + body).replace("\n", "\r\n").encode()


def test_person_quoting_bounce_wording_is_human() -> None:
    raw = message(
        "Subject: Re: Q3 performance return",
        "Our first attempt failed: 'Mail delivery failed: returning message to sender.\n"
        "The following address(es) failed: old.address@council.gov.uk'\n\n"
        "[A1] Number of visits: 42\n",
    )
    assert classify_bytes(raw) == Classification(Kind.HUMAN, "default:human")


def test_null_envelope_sender_with_failure_wording_is_a_bounce() -> None:
    raw = message(
        "Subject: Returned mail",
        "Your message to ghost@example.org could not be delivered: user unknown.\n",
    )
    assert classify_bytes(raw).kind is Kind.HUMAN  # a person's address, no other sign
    result = classify_bytes(raw, envelope_sender="<>")
    assert result.kind is Kind.BOUNCE
    assert result.failed_recipients == ("ghost@example.org",)
    assert result.rule.startswith("weak:null-sender")
    assert classify_bytes(raw, envelope_sender="jane.smith@council.gov.uk").kind is Kind.HUMAN


@pytest.mark.parametrize(
    ("header", "rule"),
    [
        ("Auto-Submitted: auto-replied (vacation)", "header:Auto-Submitted=auto-replied"),
        ("Precedence: bulk", "header:Precedence=bulk"),
        ("Precedence: auto_reply", "header:Precedence=auto_reply"),
        ("X-Precedence: junk", "header:X-Precedence=junk"),
        ("X-Autoreply: yes", "header:X-Autoreply"),
        ("X-Autorespond: Out of office", "header:X-Autorespond"),
        ("X-FC-MachineGenerated: true", "header:X-FC-MachineGenerated"),
        (
            "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
            "header:X-MS-Exchange-Generated-Message-Source",
        ),
        ("X-Apple-Action: Vacation", "header:X-Apple-Action"),
    ],
)
def test_auto_reply_headers(header: str, rule: str) -> None:
    raw = message(f"Subject: Re: Q3 performance return\n{header}", "Thanks\n")
    assert classify_bytes(raw) == Classification(Kind.AUTO_REPLY, rule)


@pytest.mark.parametrize(
    "header", ["Auto-Submitted: no", "Precedence: normal", "X-FC-MachineGenerated: false"]
)
def test_headers_that_do_not_mean_automatic(header: str) -> None:
    raw = message(f"Subject: Re: Q3 performance return\n{header}", "Thanks\n")
    assert classify_bytes(raw).kind is Kind.HUMAN


@pytest.mark.parametrize(
    ("subject", "rule"),
    [
        ("Automatic reply: Q3 performance return", "subject:automatic reply (en)"),
        ("Out of Office: Q3 return", "subject:out of office (en)"),
        ("Abwesenheitsnotiz: Q3", "subject:abwesenheitsnotiz (de)"),
        ("Automatische Antwort: Q3", "subject:automatische antwort (de)"),
        ("Réponse automatique : Q3", "subject:réponse automatique (fr)"),
        ("Absence du bureau", "subject:absence (fr)"),
        ("Respuesta automática: Q3", "subject:respuesta automática (es)"),
        ("Risposta automatica: Q3", "subject:risposta automatica (it)"),
        ("Automatisch antwoord: Q3", "subject:automatisch antwoord (nl)"),
        ("Autosvar: Q3", "subject:autosvar (sv)"),
        ("Automaattinen vastaus: Q3", "subject:automaattinen vastaus (fi)"),
    ],
)
def test_auto_reply_subjects(subject: str, rule: str) -> None:
    raw = message(f"Subject: {subject}", "I am away.\n")
    assert classify_bytes(raw) == Classification(Kind.AUTO_REPLY, rule)


@pytest.mark.parametrize(
    "subject", ["Re: Out of office cover for Q3", "Re: Automatic reply settings", "Absences"]
)
def test_subject_words_mid_subject_are_not_auto_replies(subject: str) -> None:
    assert classify_bytes(message(f"Subject: {subject}", "[A1] Visits: 3\n")).kind is Kind.HUMAN


def test_auto_reply_return_date_from_body() -> None:
    raw = message(
        "Subject: Out of Office\nDate: Fri, 20 Dec 2025 09:00:00 +0000",
        "I am out of the office and will be back on Monday 5th January.\n",
    )
    result = classify_bytes(raw)
    assert result.kind is Kind.AUTO_REPLY and result.return_date == date(2026, 1, 5)


SENT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "sent", "expected"),
    [
        ("I will be back on 15 May.", SENT, date(2026, 5, 15)),
        ("I am away until 3rd June 2026.", None, date(2026, 6, 3)),
        ("Back in the office on Tuesday, 2 June", SENT, date(2026, 6, 2)),
        ("returning 05/01/2010", None, date(2010, 1, 5)),
        ("I return on June 3, 2026", None, date(2026, 6, 3)),
        ("until 2026-06-03", None, date(2026, 6, 3)),
        ("back on 15 May", None, None),  # no year and nothing to take it from
        ("I am on leave with limited access to email.", SENT, None),
        ("back on 31/02/2026", None, None),  # not a date
        ("until 1 March", SENT, date(2027, 3, 1)),  # two months past: next year
    ],
)
def test_find_return_date(text: str, sent: datetime | None, expected: date | None) -> None:
    assert find_return_date(text, sent) == expected
