"""Form items shared by the compose tests: realistic, with every kind of context."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mailcapture.compose.message import Envelope
from mailcapture.compose.render import Rendered
from mailcapture.compose.views import FormItem

#: A request's envelope, words and time, for the message-building tests.
BST = timezone(timedelta(hours=1))
NOW = datetime(2026, 5, 1, 9, 0, 0, tzinfo=BST)
ENVELOPE = Envelope(
    from_header="Ashdown Performance Team <performance@ashdown.example>",
    to="sam.lee@ashdown.example",
    to_name="Sam Lee",
    reply_to="returns+K7Q2ZP@returns.ashdown.example",
    message_id="<0123456789abcdef0123456789abcdef@ashdown.example>",
)
ASCII = Rendered(
    subject="Performance return for April 2026 [MC-K7Q2ZP]",
    text="Dear Sam Lee,\n\n[BV8a.1] Undisputed invoices paid within 30 days (number):\n",
    html="<p>Dear Sam Lee,</p>\n",
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
STATUSES = "on track / at risk / delayed / complete (with the date)"


def item(code: str, title: str, group: str, **kw: object) -> FormItem:
    fields: dict[str, object] = {
        "code": code,
        "title": title,
        "kind": "value",
        "unit": "number",
        "indicator_code": code.rsplit(".", 1)[0],
        "indicator_title": title,
        "group": group,
        "last_period": None,
        "same_period_last_year": None,
        "target": None,
        "allowed": None,
    }
    fields.update(kw)
    return FormItem(**fields)  # type: ignore[arg-type]


ITEMS = (
    item(
        "BV8a.1",
        "Undisputed invoices paid within 30 days",
        "Finance",
        indicator_title="Percentage of undisputed invoices paid within 30 days",
        last_period="1,480",
        same_period_last_year="1,402",
        target="97%",
        allowed="0 to 20,000",
    ),
    item(
        "BV8a.2",
        "All undisputed invoices",
        "Finance",
        indicator_title="Percentage of undisputed invoices paid within 30 days",
        last_period="1,530",
    ),
    item("BV9.1", "Council tax collected", "Revenues and Benefits", unit="£"),
    item(
        "P07.M0",
        "Leisure centre refurbishment - overall progress",
        "Leisure centre refurbishment",
        kind="status",
        unit=STATUSES,
        indicator_code=None,
        indicator_title=None,
        last_period="on track",
    ),
)
