"""Complaints: a feedback report (RFC 5965 ARF) or another complaint notice came in.

A mailbox provider sends one when a recipient presses "report spam" on a message. It is
automated mail and is never answered: an "unknown sender" notice to a provider's feedback
address, or to an abuse desk, is exactly the unwanted mail the report is about, and is how a
council's domain gets blocklisted. So a complaint is recorded and nobody is written to.

Who hears of it: the performance team, through the next **daily digest**
(``schedule/digest.py``, group "Complaints about our mail"), not by an email of its own. A
council would expect to know the same day or the next morning that someone called its
returns mail spam (the person may have left, or the request may look like phishing to them),
but nothing needs doing within the hour, and a feedback loop can send hundreds of reports
after one bulk send, which one digest line each handles and an email each would not. A
forged report costs at most a digest line, never an email.

The report quotes the message it is about. When that quoted message is one of ours (its
Message-ID is one of our outbox rows', or its From is one of our addresses), the outcome
detail names our email and its addressee; when it is not, the detail says so, and it is
still listed: a complaint about mail that merely claims to be the council's is worth a look.
Reports that are not complaints (DMARC failure reports, "not spam") end ``feedback-report``
and are not listed.
"""

from __future__ import annotations

from email.utils import parseaddr

from sqlalchemy.orm import Session

from mailcapture.mailflow.loops import outbox_row_with_id
from mailcapture.mailflow.outcomes import Outcome
from mailcapture.parsing.classify import Classification
from mailcapture.register.model import MailSpec

__all__ = ["COMPLAINT", "FEEDBACK_REPORT", "record_complaint"]

#: Outcome of a complaint, as stored; the daily digest lists these.
COMPLAINT = Outcome.COMPLAINT.value
#: Outcome of a feedback report that is no complaint (``auth-failure``, ``not-spam``).
FEEDBACK_REPORT = Outcome.FEEDBACK_REPORT.value


def _our_addresses(mail: MailSpec) -> set[str]:
    return {
        mail.performance_team.lower(),
        f"{mail.reply_local}@{mail.reply_domain}".lower(),
        parseaddr(mail.from_address)[1].lower(),
    }


def record_complaint(
    session: Session, mail: MailSpec, verdict: Classification
) -> tuple[Outcome, str, str]:
    """(outcome, stage result, detail) for a complaint or feedback report; writes nothing.

    The detail is our own words with the report's facts (the reported Message-ID's owner,
    addresses), for the message's audit trail and the digest.
    """
    kind = verdict.feedback_type or "abuse"
    recipient = verdict.reported_recipient
    if not verdict.is_complaint:
        about = f" about mail from {verdict.reported_from}" if verdict.reported_from else ""
        return (
            Outcome.FEEDBACK_REPORT,
            "recorded",
            f"{kind} report{about}; not a complaint, no reply",
        )
    ours = outbox_row_with_id(session, verdict.reported_message_id)
    if ours is not None:
        who = recipient or ours.recipient
        detail = f"{kind} complaint by {who} about our {ours.kind} #{ours.id} ({ours.subject!r})"
        result = "ours"
    elif verdict.reported_from and verdict.reported_from.lower() in _our_addresses(mail):
        who = f" by {recipient}" if recipient else ""
        detail = f"{kind} complaint{who} about mail from our address {verdict.reported_from}"
        result = "ours"
    else:
        shown = verdict.reported_from or "an unknown sender"
        who = f" by {recipient}" if recipient else ""
        detail = (
            f"{kind} complaint{who} about mail from {shown}, which does not match any email of ours"
        )
        result = "not ours"
    return Outcome.COMPLAINT, result, f"{detail}; no reply; listed in the daily digest"
