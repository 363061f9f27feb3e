"""Form items shared by the compose tests: realistic, with every kind of context."""

from __future__ import annotations

from mailcapture.compose.views import FormItem

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
