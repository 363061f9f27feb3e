"""Decoding real-world messages: the corpus in tests/corpus, plus synthetic edge cases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcapture.parsing.mime import (
    DecodedMessage,
    Limits,
    MessageTooLarge,
    MimeTooDeep,
    clean_text,
    decode_message,
    decode_rfc2047,
    html_to_text,
    normalise_message_id,
    strip_trace_headers,
    unflow,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
#: The real client messages. ``hostile/`` holds messages built to break a stage (some are
#: refused by the limits by design); their own tests and the fuzz test take them.
ALL_EML = sorted(p for p in CORPUS.rglob("*.eml") if p.parent.name != "hostile")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def load(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def decode(name: str) -> DecodedMessage:
    return decode_message(load(name))


def test_corpus_is_present() -> None:
    assert len(ALL_EML) >= 60
    assert {p.parent.name for p in ALL_EML} == {"replies", "auto", "bounces", "malformed"}


@pytest.mark.parametrize("path", ALL_EML, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_message_decodes_to_clean_text(path: Path) -> None:
    msg = decode_message(path.read_bytes())
    assert isinstance(msg, DecodedMessage)
    assert not CONTROL.search(msg.text), "text keeps only \\n and \\t of the C0 controls"
    assert "\r" not in msg.text
    assert not CONTROL.search(msg.subject) and "\n" not in msg.subject and "\t" not in msg.subject
    assert msg.text_source in {"plain", "html", "none"}
    assert msg.headers, "every sample has at least one header"
    for name, value in msg.headers:
        assert name and not CONTROL.search(value) and "\n" not in value
    for address in [*msg.to, *msg.cc, *msg.reply_to, *msg.delivered_to, msg.from_address or "@"]:
        assert "@" in address and address == address.lower()
    if msg.date is not None:
        assert msg.date.tzinfo is not None
    if msg.message_id is not None:
        assert msg.message_id == normalise_message_id(msg.raw_message_id)


# -- specific facts, one sample at a time ----------------------------------------------------

SUBJECTS = [
    ("replies/gmail_iso8859-2_qp_croatian.eml", "Nikad više"),
    ("replies/mulberry_iso8859-15_qp.eml", "test äöüßÄÖÜß€"),
    ("malformed/koi8r_no_content_type.eml", "тест тест"),
    ("bounces/mailru_russian_base64_subject.eml", "Ваше сообщение не доставлено. Mail failure."),
    ("malformed/bad_encoded_word_charset_none.eml", "TEST"),
    (
        "auto/challenge_response_boxbe_waitlisted.eml",
        "Re: Dear Mr bloggs, get your Emerging Markets factsheet (Action Required)",
    ),
    ("malformed/raw_utf8_headers_broken_boundary.eml", "´!"),
    ("replies/outlook_2010_html_format_text_alternative.eml", "Test email"),
    ("bounces/lotus_notes_iso2022jp_undeliverable.eml", "Undeliverable message"),
]


@pytest.mark.parametrize(("name", "subject"), SUBJECTS)
def test_subject_is_decoded(name: str, subject: str) -> None:
    assert decode(name).subject == subject


BODY_PHRASES = [
    # (sample, phrase in text, charset used, charset guessed)
    ("replies/gmail_iso8859-2_qp_croatian.eml", "Na štriku se suši šosić.", "iso-8859-2", False),
    ("replies/mulberry_iso8859-15_qp.eml", "test äöüßÄÖÜß€", "iso-8859-15", False),
    ("replies/exchange55_reply_iso8859-1_qp_umlaut.eml", "Mit freundlichen Grüßen", None, False),
    ("replies/apple_mail_iso8859-1_on_date_wrote.eml", "On Apr 3, 2012, at 4:19 PM", None, False),
    ("replies/evolution_8bit_utf8.eml", "Превел", "utf-8", False),
    ("malformed/koi8r_no_content_type.eml", "ТЕСТ", "koi8-r", True),
    (
        "bounces/lotus_notes_iso2022jp_undeliverable.eml",
        "エラー(テストメッセージとしての)",
        None,
        False,
    ),
    (
        "bounces/mailru_russian_base64_subject.eml",
        "Это письмо создано автоматически",
        "utf-8",
        False,
    ),
    ("bounces/office365_ndr_undeliverable.eml", "The email address wasn’t found", None, False),
    ("bounces/hotmail_outlook_dsn_mailbox_full.eml", "kijitora@example.jp", None, False),
    ("replies/outlook_2010_html_format_text_alternative.eml", "I’m going to save", "utf-8", False),
    (
        "replies/yahoo_classic_base64_dashes_on_wrote.eml",
        "Hi Katharine.\xa0 Sounds",
        "utf-8",
        False,
    ),
    ("auto/autoreply_null_sender_qp_utf8.eml", "zukünftig", "utf-8", False),
    ("replies/outlook_com_2023_with_attached_message_rfc822.eml", "“Check out the", "utf-8", False),
    ("replies/iphone_mail_qp_soft_break_in_wrote.eml", "<bob@example.com> wrote:", None, False),
]


@pytest.mark.parametrize(("name", "phrase", "charset", "guessed"), BODY_PHRASES)
def test_body_phrase_in_its_charset(
    name: str, phrase: str, charset: str | None, guessed: bool
) -> None:
    msg = decode(name)
    assert phrase in msg.text
    assert msg.charset_guessed is guessed
    if charset is not None:
        assert msg.charset_used == charset


MESSAGE_IDS = [
    (
        "replies/outlook_com_2023_with_attached_message_rfc822.eml",
        "<MN6PR12MB8566625839C42BCD2B16AC1B8FD6A@MN6PR12MB8566.namprd12.prod.outlook.com>",
        "MN6PR12MB8566625839C42BCD2B16AC1B8FD6A@mn6pr12mb8566.namprd12.prod.outlook.com",
    ),
    (
        "replies/outlook_web_access_2010_html_only.eml",
        "<A2D341A8808F024CAFA63F1287B9929CF1BC440F@EMBX01.exch.local>",
        "A2D341A8808F024CAFA63F1287B9929CF1BC440F@embx01.exch.local",
    ),
    (
        "replies/mulberry_iso8859-15_qp.eml",
        "<2147483647.1053972660@[10.0.255.35]>",
        "2147483647.1053972660@[10.0.255.35]",
    ),
    ("replies/android5_gmail_app_reply.eml", None, None),
    ("malformed/bad_encoded_word_charset_none.eml", None, None),
]


@pytest.mark.parametrize(("name", "raw_id", "normal_id"), MESSAGE_IDS)
def test_message_id_from_corpus(name: str, raw_id: str | None, normal_id: str | None) -> None:
    msg = decode(name)
    assert msg.raw_message_id == raw_id
    assert msg.message_id == normal_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<ABC.123@Example.COM>", "ABC.123@example.com"),
        ("  <abc@example.com>  ", "abc@example.com"),
        ("\n <abc@EXAMPLE.com>", "abc@example.com"),
        ("<abc @ example.com>", "abc@example.com"),
        ("abc@Example.com", "abc@example.com"),
        ("<abc@example.com> (added by relay)", "abc@example.com"),
        (
            "<4cb5c7d0a3cce_120e..fdbed2@s.T-example.com.tmail>",
            "4cb5c7d0a3cce_120e..fdbed2@s.t-example.com.tmail",
        ),
        ("<Local.Part.Keeps.Case@host>", "Local.Part.Keeps.Case@host"),
        (None, None),
        ("", None),
        ("   ", None),
        ("<>", None),
        ("<no-at-sign>", None),
        ("garbage", None),
        ("<@example.com>", None),
        ("<abc@>", None),
        # Not "ab@example.com": deleting the NUL would make it another message's id.
        ("<a\x00b@example.com>", None),
        ("<ab\udcff@example.com>", None),  # a raw 8-bit byte (surrogate-escaped)
        ("<abc@exa<mple.com>", None),
    ],
)
def test_normalise_message_id(value: str | None, expected: str | None) -> None:
    assert normalise_message_id(value) == expected


def test_in_reply_to_and_references_are_normalised() -> None:
    msg = decode("replies/android5_gmail_app_reply.eml")
    assert msg.in_reply_to == ["topic/22638/86406@meta.discourse.org"]
    assert msg.references == [
        "topic/22638@meta.discourse.org",
        "topic/22638/86406@meta.discourse.org",
    ]
    assert decode("replies/yahoo_webmail_original_message_block.eml").in_reply_to == [
        "1333374262.7063.15.camel@mg5"
    ]


def test_addresses_and_date() -> None:
    msg = decode("replies/exchange55_reply_iso8859-1_qp_umlaut.eml")
    assert msg.from_address == "gst@example.com"
    assert msg.from_name == "Stever, Gregor"
    assert msg.to == ["jesse@example.com"]
    assert msg.delivered_to == ["j@pallas.eruditorum.org"]
    assert msg.date == datetime(2003, 6, 12, 8, 14, 39, tzinfo=timezone(timedelta(hours=2)))
    thunderbird = decode("replies/thunderbird3_bottom_posted_format_flowed.eml")
    assert thunderbird.sender_address == "bob@xxx.mailgun.org"
    mimecast = decode("auto/mimecast_autoresponse_mailbox_no_longer_used.eml")
    assert mimecast.reply_to == ["kijitora@example.com"]
    assert mimecast.x_original_to == ["system@errors.ef.example.org"]
    gmx = decode("bounces/gmx_mail_delivery_failed.eml")
    assert gmx.envelope_to == ["kijitora@mail.example.com"]


def test_date_with_comment_keeps_its_zone() -> None:
    msg = decode("auto/read_receipt_mdn_disposition_notification.eml")
    assert msg.date == datetime(1995, 9, 20, 0, 19, tzinfo=timezone(timedelta(hours=-4)))


def test_folded_to_header_with_empty_continuation_line() -> None:
    msg = decode("malformed/newline_continuation_empty_in_to_header.eml")
    assert msg.to == [
        "leads@sg.dc.com",
        "sag@leads.gs.ry.com",
        "sn@example-hotmail.com",
        "e-s-a-g-8718@app.ar.com",
        "jp@t-exmaple.com",
        "cc@c-l-example.com",
    ]


def test_missing_from_and_empty_reply_to_address() -> None:
    assert decode("malformed/missing_from_header.eml").from_address is None
    madness = decode("malformed/encoding_madness_qp_no_charset.eml")
    assert madness.reply_to == []
    assert madness.text == "Body Text"


def test_raw_utf8_headers_and_broken_boundary() -> None:
    msg = decode("malformed/raw_utf8_headers_broken_boundary.eml")
    assert msg.from_address == "headers@gmail.com"
    assert msg.from_name is not None and msg.from_name.startswith("Юникод запрещен")
    assert msg.text == "Hello\n"
    assert msg.text_source == "html"
    assert any("boundary" in d for d in msg.defects)


# -- body selection --------------------------------------------------------------------------

HTML_ONLY = [
    ("replies/thunderbird2_html_only.eml", ["This is a html-only email.", "With a title"]),
    ("replies/outlook_web_access_2010_html_only.eml", ["A mess.", "--Geoff Maciolek"]),
    ("malformed/cte_is_text_html.eml", ["You have qualified for the lowest rate in years."]),
]


@pytest.mark.parametrize(("name", "phrases"), HTML_ONLY)
def test_html_only_message_yields_readable_text(name: str, phrases: list[str]) -> None:
    msg = decode(name)
    assert msg.text_source == "html"
    assert msg.html is not None and "<" in msg.html
    for phrase in phrases:
        assert phrase in msg.text
    assert "<" not in msg.text.replace("<mailto", "")
    assert "font-family" not in msg.text and "{" not in msg.text  # <style> dropped


def test_plain_alternative_preferred_over_html() -> None:
    msg = decode("replies/outlook_express_reply_with_keyword_fields.eml")
    assert msg.text_source == "plain"
    assert "Status: Resolved\ndue date: 2010-12-31\nStart Date:2010-01-01" in msg.text
    assert msg.html is not None and "<STYLE>" in msg.html


def test_text_and_html_siblings_in_mixed_take_the_text_part() -> None:
    msg = decode("replies/apple_mail_text_and_html_differ.eml")
    assert msg.text.strip() == "The text part."
    assert msg.html is not None and "The html part." in msg.html


def test_attached_message_is_not_the_body() -> None:
    msg = decode("replies/outlook_com_2023_with_attached_message_rfc822.eml")
    assert msg.text.startswith("Could this look more spammy?")
    assert "this is a test" not in msg.text  # the attached message's own body
    assert [a.content_type for a in msg.attachments] == ["message/rfc822"]
    assert msg.attachments[0].size > 1000


def test_returned_message_of_a_dsn_is_not_the_body() -> None:
    msg = decode("bounces/sendmail_dsn_user_unknown.eml")
    assert "permanent fatal errors" in msg.text
    assert "Return-Path: <kijitora@example.org>" not in msg.text
    assert [a.content_type for a in msg.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]
    hotmail = decode("bounces/hotmail_outlook_dsn_mailbox_full.eml")
    assert "Nyaaaaaan" not in hotmail.text


def test_inline_text_parts_around_an_image_are_joined() -> None:
    msg = decode("replies/iphone_mail_inline_jpeg_between_text.eml")
    assert msg.text.startswith("Hello")
    assert msg.text.rstrip().endswith("~Danielle")
    assert [(a.filename, a.content_type) for a in msg.attachments] == [("photo.JPG", "image/jpeg")]
    assert msg.attachments[0].size > 5000


def test_octet_stream_body_is_an_attachment_not_text() -> None:
    msg = decode("malformed/octet_stream_body_gbk_filename.eml")
    assert msg.text == "" and msg.text_source == "none"
    assert [a.content_type for a in msg.attachments] == ["application/octet-stream"]
    assert msg.attachments[0].filename and msg.attachments[0].filename.endswith(".txt")


def test_nul_in_exchange_dsn_is_removed() -> None:
    raw = load("bounces/office365_ndr_undeliverable.eml")
    assert b"LinkId=00000000" in raw  # quoted-printable =00 decodes to NUL
    msg = decode_message(raw)
    assert "\x00" not in msg.text
    assert "LinkId000000>" in msg.text
    assert msg.html is None  # the HTML alternative is empty


def test_bare_cr_message_splits_headers_like_its_lf_twin() -> None:
    cr_raw = load("malformed/bounce_postfix_cr_only_line_endings.eml")
    assert b"\n" not in cr_raw and b"\r" in cr_raw
    cr = decode_message(cr_raw)
    lf = decode("bounces/postfix_dsn_5.1.1_procmail.eml")
    assert cr.subject == "Undelivered Mail Returned to Sender"
    assert cr.from_address == "mailer-daemon@p351355.pool.example.ne.jp"
    assert cr.message_id == "20130429234532.00000000000@p351355.pool.example.ne.jp"
    assert cr.text == lf.text
    assert cr.headers == lf.headers
    assert [a.content_type for a in cr.attachments] == [a.content_type for a in lf.attachments]
    assert any("bare CR" in d for d in cr.defects)


def test_missing_final_boundary_and_duplicate_content_type() -> None:
    missing = decode("malformed/missing_final_boundary.eml")
    assert missing.text == "Some body"
    assert any("final MIME boundary" in d for d in missing.defects)
    duplicate = decode("malformed/multiple_content_type_headers.eml")
    assert duplicate.text == "foo\n" and duplicate.html == "<p>foo</p>\n"
    assert any("Content-Type headers" in d for d in duplicate.defects)


def test_later_multipart_content_type_wins_when_its_boundary_is_used() -> None:
    raw = message(
        "From: a@example.org\nContent-Type: text/plain\n"
        'Content-Type: multipart/alternative; boundary="alt"',
        b"--alt\r\nContent-Type: text/plain\r\n\r\nthe reply\r\n"
        b"--alt\r\nContent-Type: text/html\r\n\r\n<p>the reply</p>\r\n--alt--\r\n",
    )
    msg = decode_message(raw)
    assert msg.text == "the reply" and msg.html == "<p>the reply</p>"
    assert any("used the multipart one" in d for d in msg.defects)


def test_format_flowed_is_unflowed() -> None:
    tb = decode("replies/thunderbird3_bottom_posted_format_flowed.eml")
    assert tb.text == "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello"
    oe = decode("replies/keyword_fields_spaces_before_colon.eml")
    assert "Maecenas imperdiet turpis et odio." in oe.text  # soft break joined
    assert "Project : onlinestore\nTracker: Feature request\ncategory : Stock management" in oe.text


def test_inline_uuencode_is_left_as_text() -> None:
    msg = decode("malformed/lotus_notes_inline_uuencode.eml")
    assert "(See attached file: Naz_Head.jpg)" in msg.text
    assert "begin 644 Naz_Head.jpg" in msg.text
    assert msg.attachments == []


# -- synthetic edge cases --------------------------------------------------------------------


def message(headers: str, body: bytes) -> bytes:
    return headers.strip().replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


@pytest.mark.parametrize("cte", ["quoted printable", "quoted-printable ", "Quoted-Printable"])
def test_quoted_printable_spellings(cte: str) -> None:
    raw = message(
        f"Content-Transfer-Encoding: {cte}\nFrom: a@example.org\n"
        "Content-Type: text/plain; charset=utf-8",
        b"Caf=C3=A9 cr=C3=A8me, soft=\r\nbreak\r\n",
    )
    assert decode_message(raw).text == "Café crème, softbreak\n"


def test_base64_with_broken_padding_and_line_breaks() -> None:
    raw = message(
        "From: a@example.org\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64",
        b"SGVsbG8sIFdv\r\ncmxkIQ",  # "Hello, World!" without its padding
    )
    assert decode_message(raw).text == "Hello, World!"


@pytest.mark.parametrize("label", ["", "; charset=none", "; charset=unknown-8bit", "; charset=x"])
def test_missing_or_unknown_charset_is_guessed(label: str) -> None:
    body = "Grüße aus München, the café is closed until Thursday.".encode("cp1252")
    raw = message(f"From: a@example.org\nContent-Type: text/plain{label}", body)
    msg = decode_message(raw)
    assert msg.text == "Grüße aus München, the café is closed until Thursday."
    assert msg.charset_guessed is True


def test_wrong_declared_charset_falls_back() -> None:
    raw = message(
        "From: a@example.org\nContent-Type: text/plain; charset=us-ascii",
        "Grüße – “quoted”".encode(),
    )
    msg = decode_message(raw)
    assert msg.text == "Grüße – “quoted”"
    assert msg.charset_used == "utf-8" and msg.charset_guessed is True
    broken = message(
        "From: a@example.org\nContent-Type: text/plain; charset=utf-8",
        "Grüße aus München".encode("latin-1"),
    )
    msg = decode_message(broken)
    assert msg.text == "Grüße aus München" and msg.charset_guessed is True
    assert any("does not decode" in d for d in msg.defects)


def test_encoded_words_with_bad_charset_split_utf8_and_padding() -> None:
    assert decode_rfc2047("=?NONE?B?VEVTVA=?=") == "TEST"
    assert decode_rfc2047("=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?= au lait") == "café au lait"
    assert decode_rfc2047("=?utf-8?b?w6k=?=\t=?utf-8?b?w6k=?=") == "éé"
    assert decode_rfc2047("=?iso-8859-1?q?Gr=FC=DFe?= und =?x-bogus?q?ok?=") == "Grüße und ok"
    assert decode_rfc2047("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=") == "テスト"
    raw = message("From: =?utf-8?Q?J=C3=B6rg?= <JOERG@Example.ORG>\nSubject: plain", b"hi")
    msg = decode_message(raw)
    assert (msg.from_name, msg.from_address) == ("Jörg", "joerg@example.org")


def test_format_flowed_delsp() -> None:
    assert unflow("Hello \nworld\n", delsp=False) == "Hello world\n"
    assert unflow("Hello \nworld\n", delsp=True) == "Helloworld\n"
    assert unflow("> quoted \n> more\nnew\n") == "> quoted more\nnew\n"
    assert unflow("text \n-- \nsig\n") == "text\n-- \nsig\n"
    raw = message(
        "From: a@example.org\nContent-Type: text/plain; charset=utf-8; format=flowed; delsp=yes",
        b"A long sen \r\ntence.\r\n",
    )
    assert decode_message(raw).text == "A long sentence.\n"


def test_html_form_table_keeps_code_label_value_lines() -> None:
    html = (
        "<html><body><p>Dear officer,</p><table>"
        "<tr><td>[A1] Number of visits:</td><td>42</td></tr>"
        "<tr><td>[B22] Calls answered within 20 seconds (%):</td><td>95.5</td></tr>"
        "</table><p>[C3] Complaints received: 7</p></body></html>"
    )
    lines = html_to_text(html).splitlines()
    assert "[A1] Number of visits: 42" in lines
    assert "[B22] Calls answered within 20 seconds (%): 95.5" in lines
    assert "[C3] Complaints received: 7" in lines
    raw = message("From: a@example.org\nContent-Type: text/html; charset=utf-8", html.encode())
    msg = decode_message(raw)
    assert msg.text_source == "html" and "[A1] Number of visits: 42" in msg.text


def test_attachment_disposition_and_tnef_are_not_body() -> None:
    body = (
        b"--b1\r\nContent-Type: text/plain\r\n\r\nReal reply\r\n"
        b"--b1\r\nContent-Type: text/plain; name=notes.txt\r\n"
        b"Content-Disposition: attachment; filename=notes.txt\r\n\r\nnot the body\r\n"
        b"--b1\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"eJ8+IhAAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADo\r\n"
        b"--b1--\r\n"
    )
    raw = message('From: a@example.org\nContent-Type: multipart/mixed; boundary="b1"', body)
    msg = decode_message(raw)
    assert msg.text == "Real reply"  # the line break before a boundary belongs to it
    assert [(a.filename, a.content_type) for a in msg.attachments] == [
        ("notes.txt", "text/plain"),
        ("winmail.dat", "application/ms-tnef"),
    ]
    assert msg.attachments[0].size == len(b"not the body")


def test_clean_text() -> None:
    assert clean_text("a\x00b\r\nc\rd\te\x0bf\x1b") == "ab\nc\nd\tef"


# -- limits ----------------------------------------------------------------------------------


def nested(levels: int) -> bytes:
    head = b"From: a@example.org\r\nSubject: deep\r\n"
    tail = b""
    for i in range(levels):
        head += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        tail = b"\r\n--b%d--\r\n" % i + tail
    return head + b"Content-Type: text/plain\r\n\r\nhello\r\n" + tail


def test_nesting_within_the_limit_decodes() -> None:
    msg = decode_message(nested(20))
    assert msg.text.strip() == "hello"


def test_too_deep() -> None:
    with pytest.raises(MimeTooDeep) as excinfo:
        decode_message(nested(25))
    assert "\n" not in str(excinfo.value) and "20" in str(excinfo.value)
    with pytest.raises(MimeTooDeep):  # deep enough to exhaust the stdlib parser's recursion
        decode_message(nested(1100), Limits(max_parts=100_000, max_depth=5000))


def test_too_large() -> None:
    raw = message("From: a@example.org\nSubject: big", b"x" * 2000)
    assert decode_message(raw, Limits(max_bytes=len(raw))).text == "x" * 2000
    with pytest.raises(MessageTooLarge) as excinfo:
        decode_message(raw, Limits(max_bytes=len(raw) - 1))
    assert "\n" not in str(excinfo.value)


def test_too_many_parts() -> None:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(8))
    raw = message(
        'From: a@example.org\nContent-Type: multipart/mixed; boundary="b"', parts + b"--b--"
    )
    assert decode_message(raw, Limits(max_parts=9)).text.startswith("part 0")
    with pytest.raises(MessageTooLarge):
        decode_message(raw, Limits(max_parts=5))


# -- hashing support -------------------------------------------------------------------------


def test_strip_trace_headers_matches_a_redelivery() -> None:
    raw = load("replies/outlook_com_2023_with_attached_message_rfc822.eml")
    again = (
        b"From MAILER-DAEMON Tue Oct 17 10:10:16 2023\n"
        b"Received: from relay.example.net by mx.example.org; Wed, 18 Oct 2023 09:00:00 +0000\n"
        b"X-Spam-Status: No, score=-1.0\nAuthentication-Results: mx.example.org; dkim=pass\n"
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none\n"
        + raw.replace(b"\r\n", b"\n").replace(b"Delivered-To: rt@example.com\n", b"")
        + b"\n\n"
    )
    stripped = strip_trace_headers(raw)
    assert stripped == strip_trace_headers(again)
    assert b"\r" not in stripped and not stripped.lower().startswith(b"received")
    for kept in (b"From: ", b"Subject: msg attachment", b"Message-ID:", b"X-MS-Has-Attach: yes"):
        assert kept in stripped
    for gone in (b"\nReceived:", b"Delivered-To:", b"Return-Path:", b"X-MS-Exchange-CrossTenant"):
        assert gone not in stripped.split(b"\n\n", 1)[0]
    assert stripped != strip_trace_headers(raw.replace(b"Subject: msg", b"Subject: MSG"))


def test_decoded_message_is_immutable() -> None:
    msg = decode("replies/gmail_web_2012_gmail_quote.eml")
    with pytest.raises(AttributeError):
        msg.subject = "changed"  # type: ignore[misc]
    assert msg.header("SUBJECT") == "Re: Test"
    assert msg.header_all("mime-version") == ["1.0"]
    assert datetime(2012, 4, 2, 16, 21, 52, tzinfo=UTC) == msg.date


# -- robustness ------------------------------------------------------------------------------

SMALL_SAMPLES = [p.read_bytes() for p in ALL_EML if p.stat().st_size < 20_000]
TOKENS = [
    b"\r", b"\n", b"\x00", b"=?utf-8?B?", b"?=", b"--", b"boundary=", b"\xff\xfe", b"=\n",
    b"Content-Type: multipart/mixed; boundary=x\n", b"Content-Transfer-Encoding: base64\n",
    b"charset=\xb3\xb4", b"message/rfc822", b"message/delivery-status", b"\xe2\x80", b'"',
]  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    sample=st.sampled_from(SMALL_SAMPLES),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(TOKENS), st.integers(0, 40)), max_size=6
    ),
)
def test_damaged_messages_never_raise(sample: bytes, edits: list[tuple[float, bytes, int]]) -> None:
    data = bytearray(sample)
    for where, token, cut in edits:
        pos = int(where * len(data))
        data[pos : pos + cut] = token  # replace a stretch with a troublesome token
    msg = decode_message(bytes(data))
    assert "\x00" not in msg.text and "\r" not in msg.text
