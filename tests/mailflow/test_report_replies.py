"""Answers to reports by email: sign-off, query, commentary, through ``Pipeline.ingest``.

The sample council after April 2026's returns: Kevin Walsh sends BV8a's components, then
the owner report (built here in the agreed answer-line form, since the report emails are
built elsewhere) goes to Mark Ellison, who owns BV8a. Replies are built with the client
styles of :mod:`mailcapture.demo.clients` from the exact bytes we queued, and what the
database and :func:`indicator_values` then say is asserted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.compose.message import Envelope as MailEnvelope
from mailcapture.compose.message import build_message, make_message_id
from mailcapture.compose.render import Rendered
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.figures import format_figure
from mailcapture.domain.periods import parse_period
from mailcapture.outbox.queue import NewMail, enqueue
from mailcapture.register.mail import mail_settings, reply_address
from mailcapture.reports.queries import indicator_values
from mailcapture.schedule.tick import new_token, tick
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
AMY = "Amy Lawson <amy.lawson@ashdown.example>"
MARK = "Mark Ellison <mark.ellison@ashdown.example>"
ALISON = "Alison Reeve <alison.reeve@ashdown.example>"
RICHARD = "Richard Okafor <richard.okafor@ashdown.example>"
RICHARD_ADDRESS = "richard.okafor@ashdown.example"
CLAIRE = "Claire Donnelly <claire.donnelly@ashdown.example>"
EMMA = "Emma Kirkby <emma.kirkby@ashdown.example>"
STRANGER = "Pat Stranger <pat@elsewhere.example>"


def report_text(
    session: Session, name: str, period: str, codes: list[str], dept: str | None
) -> str:
    """An owner (or department) report's text part in the agreed answer-line form."""
    rows = {r.code: r for r in indicator_values(session, parse_period(period), codes)}
    lines = [
        "Ashdown District Council: performance team",
        "",
        f"Dear {name},",
        "",
        "These figures await your sign-off. Reply with [CODE approve]: yes, or",
        "[CODE query]: and your reason, or write approved to approve them all.",
        "",
    ]
    for code in codes:
        row = rows[code]
        value = format_figure(row.value, row.unit, row.decimals) if row.value is not None else "-"
        flag = " - provisional" if "provisional" in row.flags else ""
        lines += [
            f"[{code}] {row.title[:40]}: {value}, {row.rag.value}, {row.trend.value}{flag}",
            f"[{code} approve]:",
            f"[{code} query]:",
            f"[{code} comment]:",
            "",
        ]
    if dept:
        lines += [f"[{dept} comment]:", ""]
    return "\n".join(lines) + "\n"


class World(PipelineWorld):
    """The sample council after the April 2026 requests went out."""

    def send_report(
        self,
        email: str,
        codes: list[str],
        *,
        kind: str = "owner",
        period: str = "2026-04",
        dept: str | None = None,
    ) -> bytes:
        """Queue a report to ``email`` with a ReportRun carrying a token; its raw bytes."""
        now = self.clock.now()
        with self.sessions() as s, s.begin():
            mail = mail_settings(s)
            person = s.scalars(select(m.Person).where(m.Person.email == email)).one()
            period_row = s.scalars(select(m.Period).where(m.Period.code == period)).one()
            token = new_token()
            message_id = make_message_id(mail.reply_domain)
            label = parse_period(period).label
            text = report_text(s, person.name, period, codes, dept)
            rendered = Rendered(
                subject=f"Your {kind} report for {label} [MC-{token}]",
                text=text,
                html=f"<html><body><pre>{text}</pre></body></html>\n",
            )
            raw = build_message(
                MailEnvelope(
                    from_header=mail.from_address,
                    to=person.email,
                    to_name=person.name,
                    reply_to=reply_address(mail, token),
                    message_id=message_id,
                ),
                rendered,
                now,
            )
            row = enqueue(
                s,
                NewMail(
                    kind=f"report_{kind}",
                    recipient=person.email,
                    subject=rendered.subject,
                    message_id=message_id,
                    raw=raw,
                    dedupe_key=f"test-report:{token}",
                    person_id=person.id,
                    period_id=period_row.id,
                ),
                now,
            )
            assert row is not None
            department_id = (
                s.scalars(select(m.Department.id).where(m.Department.code == dept)).one()
                if dept
                else None
            )
            s.add(
                m.ReportRun(
                    key=f"test-{kind}:{period}:{person.id}",
                    report_kind=kind,
                    period_id=period_row.id,
                    person_id=person.id,
                    department_id=department_id,
                    created_at=now,
                    outbox_id=row.id,
                    token=token,
                    message_id=message_id,
                    expires_at=now + timedelta(days=100),
                )
            )
            return raw

    def signoffs(self, code: str, period: str = "2026-04") -> list[tuple[str, str | None, bool]]:
        with self.sessions() as s:
            return [
                (r.decision.value, r.reason, r.is_current)
                for r in s.scalars(
                    select(m.Signoff)
                    .join(m.Indicator)
                    .join(m.Period)
                    .where(m.Indicator.code == code, m.Period.code == period)
                    .order_by(m.Signoff.id)
                )
            ]

    def provisional(self, code: str, period: str = "2026-04") -> bool:
        with self.sessions() as s:
            [row] = indicator_values(s, parse_period(period), [code])
            assert row.value is not None
            return "provisional" in row.flags

    def message(self, inbound_id: int) -> m.InboundMessage:
        with self.sessions() as s:
            return s.get_one(m.InboundMessage, inbound_id)


def _text(row: m.OutboxMessage) -> str:
    return clients.plain_text(clients.parsed(row.raw))


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> World:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    w = World(sessions)
    kevin = w.ingest(
        clients.outlook_in_place(
            w.request_raw("kevin.walsh@ashdown.example"),
            KEVIN,
            {"BV8a.1": "1,234", "BV8a.2": "1300"},
        )
    )
    assert kevin.outcome == "applied", kevin
    return w


def test_owner_approves_one_code_and_only_their_own(world: World) -> None:
    # The report also shows NI181 (Claire Donnelly's) to Mark, for information.
    report = world.send_report("mark.ellison@ashdown.example", ["BV8a", "NI181"])
    assert world.provisional("BV8a")

    # A stranger and a registered person who is not the addressee are refused.
    stranger = world.ingest(clients.phone(report, STRANGER, "[BV8a approve]"))
    assert stranger.outcome == "unknown-sender"
    claire = world.ingest(clients.phone(report, CLAIRE, "[BV8a approve]"))
    assert claire.outcome == "wrong-person"
    assert world.message(claire.id).report_run_id is not None
    # Approving an indicator that is not Mark's is refused: NI181 is in his report but is
    # Claire Donnelly's; BV12 (Joanne Fletcher's) is not in his report at all.
    other = world.ingest(clients.phone(report, MARK, "[NI181 approve]: yes\n[BV12 approve]: yes"))
    assert other.outcome == "report-refused", other
    assert world.signoffs("NI181") == []
    assert world.signoffs("BV12") == []
    assert world.signoffs("BV8a") == []
    assert world.provisional("BV8a")
    [refusal] = world.outbox("report_answer_confirmation")
    refused = " ".join(_text(refusal).split())
    assert "BV12 is not in this report; [BV12 approve] was not taken" in refused
    assert "only NI181's owner, Claire Donnelly, or the performance team can sign" in refused

    # A forged sender, by our own receiving host's DMARC verdict, is held.
    forged = (
        b"Authentication-Results: mx.ashdown.example; dmarc=fail (p=none) "
        b"header.from=ashdown.example\r\n" + clients.phone(report, MARK, "[BV8a approve]")
    )
    held = world.ingest(forged)
    assert (held.state, held.outcome) == ("quarantined", "dmarc-fail"), held
    assert world.signoffs("BV8a") == []

    # Outlook: "x" typed after the colon of the approve line in the quoted report.
    result = world.ingest(
        clients.outlook_in_place(report, MARK, {"BV8a approve": "x"}, top="Done.\nMark")
    )
    assert (result.state, result.outcome) == ("processed", "report-answer"), result
    assert world.signoffs("BV8a") == [("approved", None, True)]
    assert not world.provisional("BV8a")
    confirmation = world.outbox("report_answer_confirmation")[-1]
    assert confirmation.recipient == "mark.ellison@ashdown.example"
    text = _text(confirmation)
    assert "1 approved" in confirmation.subject
    assert "BV8a" in text and "94.9%" in text
    assert "Nothing in this report awaits your sign-off" in text
    # A reply that lost the token (plain address, subject retyped) is matched by
    # In-Reply-To; after the report's token expires nothing is recorded.
    lost = clients.parsed(clients.phone(report, MARK, "[BV8a comment]: Paid late in week 2."))
    lost.replace_header("To", "performance@ashdown.example")
    lost.replace_header("Subject", "April figures")
    by_reference = world.ingest(lost.as_bytes())
    assert by_reference.outcome == "report-answer", by_reference
    assert world.message(by_reference.id).report_run_id is not None
    expired = world.ingest(
        clients.phone(report, MARK, "[BV8a query]: check it"),
        at=as_utc(datetime(2026, 9, 1, 9, 0)),
    )
    assert expired.outcome == "expired", expired
    assert world.signoffs("BV8a") == [("approved", None, True)]
    # The confirmation answers the report: its Reply-To carries the report's token.
    with world.sessions() as s:
        token = s.scalars(
            select(m.ReportRun.token).where(m.ReportRun.key.startswith("test-owner:"))
        ).one()
    assert token in str(clients.parsed(confirmation.raw)["Reply-To"])


def test_approved_for_all_by_the_performance_team(world: World) -> None:
    amy = world.ingest(
        clients.outlook_in_place(
            world.request_raw("amy.lawson@ashdown.example"),
            AMY,
            {"NI181.1": "18,450", "NI181.2": "2,460"},
        )
    )
    assert amy.outcome in ("applied", "rejected"), amy
    report = world.send_report("alison.reeve@ashdown.example", ["BV8a", "NI181"])
    assert world.provisional("BV8a") and world.provisional("NI181")
    result = world.ingest(clients.gmail_top_posted(report, ALISON, "Approved, thanks\nAlison"))
    assert result.outcome == "report-answer", result
    assert world.signoffs("BV8a") == [("approved", None, True)]
    assert world.signoffs("NI181") == [("approved", None, True)]
    assert not world.provisional("BV8a") and not world.provisional("NI181")
    [confirmation] = world.outbox("report_answer_confirmation")
    assert "2 approved" in confirmation.subject


def test_query_reaches_the_updater_and_the_correction_is_taken(world: World) -> None:
    report = world.send_report("mark.ellison@ashdown.example", ["BV8a"])
    # The request has expired by now: the query must reopen it for the correction.
    with world.sessions() as s, s.begin():
        request = s.scalars(
            select(m.DataRequest)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .where(m.Person.email == "kevin.walsh@ashdown.example")
        ).one()
        request.expires_at = as_utc(datetime(2026, 5, 10, 9, 0))
        token = request.token
    reason = "1,234 of 1,300 looks low for April; please check BV8a.1 against the ledger"
    result = world.ingest(
        clients.gmail_top_posted(report, MARK, f"[BV8a query]: {reason}\n\nThanks, Mark"),
        at=as_utc(datetime(2026, 5, 12, 9, 0)),
    )
    assert result.outcome == "report-answer", result
    assert world.signoffs("BV8a") == [("queried", reason, True)]
    assert world.provisional("BV8a")
    [notice] = world.outbox("query_notice")
    assert notice.recipient == "kevin.walsh@ashdown.example"
    text = " ".join(_text(notice).split())
    assert reason in text
    assert "Mark Ellison" in text and "1,234" in text
    assert token in str(clients.parsed(notice.raw)["Reply-To"])
    assert f"[MC-{token}]" in notice.subject
    [confirmation] = world.outbox("report_answer_confirmation")
    assert "1 queried" in confirmation.subject
    assert "kevin.walsh@ashdown.example" in _text(confirmation)

    # An untouched in-place copy of the notice changes nothing.
    untouched = world.ingest(
        clients.outlook_in_place(notice.raw, KEVIN, {}, top="Looking into it.")
    )
    assert untouched.outcome != "applied", untouched
    # The corrected figure typed into the notice's form, in place, is taken.
    corrected = world.ingest(
        clients.outlook_in_place(notice.raw, KEVIN, {"BV8a.1": "1,262"}, top="Sorry, a typo.")
    )
    assert corrected.outcome == "applied", corrected
    with world.sessions() as s:
        [row] = indicator_values(s, parse_period("2026-04"), ["BV8a"])
    assert row.value == Decimal("97.1")  # 100 * 1262 / 1300, one decimal
    assert "provisional" in row.flags  # still awaits the owner's approval


def test_comments_from_owner_and_head_of_service(world: World) -> None:
    report = world.send_report("mark.ellison@ashdown.example", ["BV8a"])
    result = world.ingest(
        clients.gmail_top_posted(
            report,
            MARK,
            "[BV8a comment]: The new invoice system went live on 14 April;\n"
            "two weeks of backlog explain the dip.\n\nMark",
        )
    )
    assert result.outcome == "report-answer", result
    dept_report = world.send_report(
        "richard.okafor@ashdown.example", [], kind="department", dept="RES"
    )
    head = world.ingest(
        clients.outlook_in_place(
            dept_report, RICHARD, {"RES comment": "Resources is on track apart from payments."}
        )
    )
    assert head.outcome == "report-answer", head
    with world.sessions() as s:
        rows = s.execute(
            select(m.Commentary.subject, m.Commentary.author_role, m.Commentary.body)
            .where(m.Commentary.author_role != "updater")
            .order_by(m.Commentary.id)
        ).all()
        [indicator_id] = s.scalars(
            select(m.Commentary.indicator_id).where(m.Commentary.author_role == "owner")
        )
        assert s.get_one(m.Indicator, indicator_id).code == "BV8a"
    assert [(r[0].value, r[1]) for r in rows] == [
        ("indicator", "owner"),
        ("department", "head_of_service"),
    ]
    assert rows[0][2] == (
        "The new invoice system went live on 14 April;\ntwo weeks of backlog explain the dip."
    )
    assert rows[1][2] == "Resources is on track apart from payments."
    assert world.signoffs("BV8a") == []


def test_locked_period_refuses_a_value_and_a_sign_off(world: World) -> None:
    report = world.send_report("mark.ellison@ashdown.example", ["BV8a"])
    with world.sessions() as s, s.begin():
        q1 = s.scalars(select(m.Period).where(m.Period.code == "2026/27 Q1")).one()
        s.add(m.PeriodLock(period_id=q1.id, locked_at=as_utc(datetime(2026, 7, 14, 16, 0))))
    reason = "was locked by the performance team on 14 July 2026"
    late = world.ingest(
        clients.gmail_top_posted(
            world.request_raw("kevin.walsh@ashdown.example"), KEVIN, "BV8a.1: 1,250"
        ),
        at=as_utc(datetime(2026, 7, 20, 9, 0)),
    )
    assert late.outcome == "rejected", late
    with world.sessions() as s:
        [row] = indicator_values(s, parse_period("2026-04"), ["BV8a"])
    assert row.value == Decimal("94.9")  # still 1,234 / 1,300
    confirmation = world.outbox("confirmation")[-1]
    assert reason in " ".join(_text(confirmation).split())

    approve = world.ingest(clients.phone(report, MARK, "[BV8a approve]: yes"))
    assert approve.outcome == "report-refused", approve
    assert world.signoffs("BV8a") == []
    assert world.provisional("BV8a")
    [answer] = world.outbox("report_answer_confirmation")
    assert reason in " ".join(_text(answer).split())


def test_answers_to_the_real_owner_report_from_the_timetable(world: World) -> None:
    """The owner report the timetable sends, answered as Gmail and Outlook quote it."""
    tick(world.sessions, as_utc(datetime(2026, 5, 20, 10, 0)))
    with world.sessions() as s:
        april = s.scalars(select(m.Period.id).where(m.Period.code == "2026-04")).one()
    [report] = [
        r
        for r in world.outbox("report_owner")
        if r.recipient == "mark.ellison@ashdown.example"
        and r.period_id == april
        and "[MC-" in r.subject
    ]
    assert "[BV8a approve]:" in _text(report)
    assert world.provisional("BV8a")

    approved = world.ingest(
        clients.gmail_top_posted(report.raw, MARK, "Approved.\n\nMark"),
        at=as_utc(datetime(2026, 5, 21, 9, 0)),
    )
    assert approved.outcome == "report-answer", approved
    assert world.signoffs("BV8a") == [("approved", None, True)]
    assert not world.provisional("BV8a")

    commented = world.ingest(
        clients.outlook_in_place(
            report.raw, MARK, {"BV8a comment": "Backlog from the new invoice system."}
        ),
        at=as_utc(datetime(2026, 5, 21, 10, 0)),
    )
    assert commented.outcome == "report-answer", commented
    # The untouched copy of the approve and query lines added nothing.
    assert world.signoffs("BV8a") == [("approved", None, True)]
    with world.sessions() as s:
        [(body, role)] = s.execute(
            select(m.Commentary.body, m.Commentary.author_role)
            .join(m.Indicator)
            .where(m.Indicator.code == "BV8a", m.Commentary.author_role == "owner")
        ).all()
    assert (body, role) == ("Backlog from the new invoice system.", "owner")
    last = world.outbox("report_answer_confirmation")[-1]
    assert "1 comment" in last.subject

    # A later query supersedes the approval: the figure is provisional again.
    requery = world.ingest(
        clients.phone(report.raw, MARK, "[BV8a query]: the May ledger shows 1,251 paid"),
        at=as_utc(datetime(2026, 5, 22, 9, 0)),
    )
    assert requery.outcome == "report-answer", requery
    assert world.signoffs("BV8a") == [
        ("approved", None, False),
        ("queried", "the May ledger shows 1,251 paid", True),
    ]
    assert world.provisional("BV8a")

    # The department reports: Richard Okafor heads Resources; Emma Kirkby is the
    # registered delegate of Sarah Whitfield, who heads Communities and Housing.
    tick(world.sessions, as_utc(datetime(2026, 5, 29, 10, 0)))
    reports = {
        r.recipient: r
        for r in world.outbox("report_department")
        if r.period_id == april and "[MC-" in r.subject
    }
    richard = world.ingest(
        clients.outlook_in_place(
            reports["richard.okafor@ashdown.example"].raw,
            RICHARD,
            {"RES comment": "Payments recovered in May; see BV8a."},
        ),
        at=as_utc(datetime(2026, 5, 29, 11, 0)),
    )
    assert richard.outcome == "report-answer", richard
    emma = world.ingest(
        clients.gmail_top_posted(
            reports["sarah.whitfield@ashdown.example"].raw,
            EMMA,
            "[CHS comment]: Sarah is on leave; housing figures are steady.\n\nEmma",
        ),
        at=as_utc(datetime(2026, 5, 29, 12, 0)),
    )
    assert emma.outcome == "report-answer", emma
    with world.sessions() as s:
        found = s.execute(
            select(m.Department.code, m.Commentary.body, m.Commentary.author_role)
            .join(m.Department, m.Department.id == m.Commentary.department_id)
            .where(m.Commentary.subject == "department")
            .order_by(m.Commentary.id)
        ).all()
        [delegated] = s.scalars(
            select(m.Commentary).where(m.Commentary.inbound_message_id == emma.id)
        ).all()
        assert s.get_one(m.Person, delegated.submitted_by_id).email == EMMA.split("<")[1][:-1]
        assert s.get_one(m.Person, delegated.on_behalf_of_id or 0).name == "Sarah Whitfield"
    assert [tuple(r) for r in found] == [
        ("RES", "Payments recovered in May; see BV8a.", "head_of_service"),
        ("CHS", "Sarah is on leave; housing figures are steady.", "head_of_service"),
    ]


def test_a_head_of_service_comments_on_an_indicator_their_department_report_lists(
    world: World,
) -> None:
    """Issue 15, part 8: ``[BV8a comment]`` to Resources' department report, from its head
    (Richard Okafor), was refused with "BV8a is not in this report" although the report
    lists it. It is now the head of service's commentary on the indicator, beside the
    owner's; a code the report does not list is still refused with the reason."""
    tick(world.sessions, as_utc(datetime(2026, 5, 29, 10, 0)))
    [report] = [
        r
        for r in world.outbox("report_department")
        if r.recipient == RICHARD_ADDRESS and "April 2026 [MC-" in r.subject
    ]
    text = clients.plain_text(clients.parsed(report.raw))
    assert "BV8a" in text and "BV212" not in text
    result = world.ingest(
        clients.gmail_top_posted(
            report.raw,
            RICHARD,
            "[BV8a comment]: The backlog is cleared; June will be back on target.\n"
            "[BV212 comment]: Not mine, but voids are up.\n\nRichard",
        ),
        at=as_utc(datetime(2026, 5, 29, 11, 0)),
    )
    assert result.outcome == "report-answer", result
    with world.sessions() as s:
        rows = s.execute(
            select(m.Indicator.code, m.Commentary.body, m.Commentary.author_role)
            .join(m.Indicator, m.Indicator.id == m.Commentary.indicator_id)
            .where(m.Commentary.inbound_message_id == result.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("BV8a", "The backlog is cleared; June will be back on target.", "head_of_service")
    ]
    [confirmation] = [
        r for r in world.outbox("report_answer_confirmation") if r.recipient == RICHARD_ADDRESS
    ]
    said = " ".join(clients.plain_text(clients.parsed(confirmation.raw)).split())
    assert "BV212" in said and "not in this report" in said
