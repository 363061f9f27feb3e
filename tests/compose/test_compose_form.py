"""The plain-text form: exact layout, the 78-character limit, and parsing back to the codes."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcapture.compose.form import (
    MAX_LINE,
    comment_codes,
    comment_line,
    context_line,
    context_lines,
    form_groups,
    form_line,
    form_lines,
    ordered_codes,
    parse_back,
)
from mailcapture.compose.textfmt import one_line
from mailcapture.compose.views import FormItem

LABEL_COLON = re.compile(r"(?<!\d)[:：]|[:：](?!\d)")
STATUSES = "on track / at risk / delayed / complete (with the date)"
BV8A_TITLE = "Percentage of undisputed invoices paid within 30 days"


def value(code: str, title: str, **kw: object) -> FormItem:
    fields: dict[str, object] = {
        "code": code,
        "title": title,
        "kind": "value",
        "unit": "number",
        "indicator_code": code.rsplit(".", 1)[0],
        "indicator_title": title,
        "group": "Finance",
        "last_period": None,
        "same_period_last_year": None,
        "target": None,
        "allowed": None,
    }
    fields.update(kw)
    return FormItem(**fields)  # type: ignore[arg-type]


def status(code: str, title: str, group: str, **kw: object) -> FormItem:
    return value(
        code,
        title,
        kind="status",
        unit=STATUSES,
        indicator_code=None,
        indicator_title=None,
        group=group,
        **kw,
    )


BV8A_1 = value(
    "BV8a.1",
    "Undisputed invoices paid within 30 days",
    indicator_title=BV8A_TITLE,
    last_period="1,480",
    same_period_last_year="1,402",
    target="97%",
    allowed="0 to 20,000",
)
BV8A_2 = value("BV8a.2", "All undisputed invoices", indicator_title=BV8A_TITLE)
FIN3 = value("FIN3.1", "Council tax collected", unit="£")
P07 = status("P07.M0", "Leisure centre refurbishment - overall progress", "Leisure")


# ------------------------------------------------------------------------ single lines


def test_form_line_for_a_value_has_code_title_and_unit() -> None:
    assert form_line(BV8A_1) == "[BV8a.1] Undisputed invoices paid within 30 days (number):"
    assert form_line(FIN3) == "[FIN3.1] Council tax collected (£):"


def test_form_line_for_a_status_has_no_unit_in_brackets() -> None:
    assert form_line(P07) == "[P07.M0] Leisure centre refurbishment - overall progress:"


def test_form_line_flattens_newlines_in_a_title() -> None:
    item = dataclasses.replace(FIN3, title="Council tax\ncollected\t(net)")
    assert form_line(item) == "[FIN3.1] Council tax collected (net) (£):"


def test_the_answer_colon_is_the_first_colon_on_the_line() -> None:
    item = dataclasses.replace(FIN3, title="Waste: tonnes collected by 10:30", unit="t:yr")
    assert form_line(item) == "[FIN3.1] Waste - tonnes collected by 10:30 (t - yr):"
    milestone = dataclasses.replace(P07, title="Phase 2：fit-out")
    assert form_line(milestone) == "[P07.M0] Phase 2 - fit-out:"


def test_long_title_is_shortened_never_code_or_unit() -> None:
    item = dataclasses.replace(BV8A_1, title="Invoices " * 20, unit="tonnes")
    line = form_line(item)
    assert len(line) == MAX_LINE
    assert line.startswith("[BV8a.1] Invoices Invoices")
    assert line.endswith("... (tonnes):")


def test_code_and_unit_that_cannot_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        form_line(dataclasses.replace(FIN3, unit="u" * 80))


@pytest.mark.parametrize("code", ["", "BV 8", "BV[8]", "A]"])
def test_bad_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match="code"):
        form_line(dataclasses.replace(FIN3, code=code))
    with pytest.raises(ValueError, match="code"):
        comment_line(code)


def test_context_line_shows_every_known_part_and_wraps_within_78() -> None:
    assert context_lines(BV8A_1) == [
        "    Last period: 1,480 | Same period last year: 1,402 | Target: 97%",
        "    Allowed: 0 to 20,000",
    ]
    assert context_line(BV8A_1) == "\n".join(context_lines(BV8A_1))


def test_context_line_shows_only_the_parts_known() -> None:
    assert context_line(dataclasses.replace(FIN3, target="£1.2m")) == "    Target: £1.2m"
    assert context_line(FIN3) is None
    assert context_lines(FIN3) == []


def test_status_context_line_lists_the_answers() -> None:
    assert context_line(P07) == f"    Answer one of: {STATUSES}"


def test_one_very_long_part_wraps_with_a_hanging_indent() -> None:
    item = dataclasses.replace(FIN3, allowed="between zero and a very large number " * 4)
    lines = context_lines(item)
    assert len(lines) > 1
    assert all(len(line) <= MAX_LINE for line in lines)
    assert lines[0].startswith("    Allowed: between")
    assert all(line.startswith("      ") for line in lines[1:])


def test_comment_line() -> None:
    assert comment_line("BV8a") == "[BV8a comment]:"


# ------------------------------------------------------------------------ the whole form


def test_form_lines_layout() -> None:
    assert form_lines([BV8A_1, BV8A_2, FIN3, P07]) == [
        "-- Finance --",
        "",
        f"Indicator BV8a - {BV8A_TITLE}",
        "[BV8a.1] Undisputed invoices paid within 30 days (number):",
        "    Last period: 1,480 | Same period last year: 1,402 | Target: 97%",
        "    Allowed: 0 to 20,000",
        "[BV8a.2] All undisputed invoices (number):",
        "[BV8a comment]:",
        "",
        "[FIN3.1] Council tax collected (£):",
        "[FIN3 comment]:",
        "",
        "-- Leisure --",
        "",
        "[P07.M0] Leisure centre refurbishment - overall progress:",
        f"    Answer one of: {STATUSES}",
        "[P07.M0 comment]:",
    ]


def test_an_indicators_components_stay_together_with_one_comment_line() -> None:
    # Out of order, and across groups: the block stays in its first component's group.
    other = dataclasses.replace(BV8A_2, group="Leisure")
    items = [BV8A_1, P07, FIN3, other]
    lines = form_lines(items)
    assert lines.count("[BV8a comment]:") == 1
    assert ordered_codes(items) == ["BV8a.1", "BV8a.2", "FIN3.1", "P07.M0"]
    assert parse_back("\n".join(lines)) == ordered_codes(items)
    assert lines.index("[BV8a comment]:") == lines.index(form_line(other)) + 1
    assert [g.name for g in form_groups(items)] == ["Finance", "Leisure"]


def test_comment_codes_are_indicators_and_milestones_in_form_order() -> None:
    assert comment_codes([P07, BV8A_1, FIN3, BV8A_2]) == ["P07.M0", "BV8a", "FIN3"]


def test_every_milestone_gets_its_own_comment_line() -> None:
    second = status("P08.M2", "Depot roof replaced", "Leisure")
    lines = form_lines([P07, second])
    assert "[P07.M0 comment]:" in lines
    assert "[P08.M2 comment]:" in lines


def test_no_indicator_heading_when_it_only_repeats_the_title() -> None:
    lines = form_lines([FIN3])
    assert not any(line.startswith("Indicator") for line in lines)


def test_a_code_asked_for_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        form_lines([FIN3, dataclasses.replace(FIN3, code="fin3.1")])


def test_parse_back_reads_answer_lines_only() -> None:
    text = "\n".join(
        [
            "[A.1] Title (number):",
            "[A.1 comment]:",
            "    [B.1] indented is context",
            "Reference: [MC-XYZ]",
            "[C.2]: untitled",
            "[D.3] Title: 12",
        ]
    )
    assert parse_back(text) == ["A.1", "C.2", "D.3"]


# ------------------------------------------------------------------------ properties

codes = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}(\.[A-Za-z0-9]{1,6}){0,2}", fullmatch=True)
# Long text must be common, not a rare draw: a title only gets shortened past ~60 characters.
words = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z")), min_size=1, max_size=14),
    min_size=1,
    max_size=30,
).map(" ".join)
titles = st.one_of(st.text(max_size=40), st.text(min_size=70, max_size=300), words)
units = st.text(alphabet="abcdefghijklmnopqrstuvwxyz %£/-", max_size=20)
context = st.none() | st.text(max_size=30) | words


@st.composite
def form_items(draw: st.DrawFn) -> list[FormItem]:
    item_codes = draw(st.lists(codes, min_size=1, max_size=12, unique_by=str.casefold))
    indicators = draw(st.lists(codes, min_size=1, max_size=4))
    groups = draw(st.lists(titles, min_size=1, max_size=3))
    items = []
    for code in item_codes:
        kind = draw(st.sampled_from(["value", "status"]))
        items.append(
            FormItem(
                code=code,
                title=draw(titles),
                kind=kind,
                unit=draw(units) if kind == "value" else draw(st.text(max_size=100)),
                indicator_code=draw(st.sampled_from(indicators)) if kind == "value" else None,
                indicator_title=draw(st.none() | titles),
                group=draw(st.sampled_from(groups)),
                last_period=draw(context),
                same_period_last_year=draw(context),
                target=draw(context),
                allowed=draw(context),
            )
        )
    return items


@settings(max_examples=200)
@given(form_items())
def test_form_never_exceeds_78_and_parses_back_to_the_codes(items: list[FormItem]) -> None:
    lines = form_lines(items)
    too_long = [line for line in lines if len(line) > MAX_LINE]
    assert not too_long
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert parse_back("\n".join(lines)) == ordered_codes(items)
    assert sorted(ordered_codes(items)) == sorted(item.code for item in items)
    for line in lines:
        if parse_back(line):
            # A reader splits label from answer at the first colon that is not in a time.
            after_code = line[line.index("]") + 1 :]
            first = LABEL_COLON.search(after_code)
            assert first is not None and first.end() == len(after_code)


@given(st.sampled_from([BV8A_1, P07]), titles, codes)
def test_form_line_keeps_code_and_unit_whatever_the_title(
    item: FormItem, title: str, code: str
) -> None:
    line = form_line(dataclasses.replace(item, title=title, code=code))
    assert len(line) <= MAX_LINE
    assert line.startswith(f"[{code}]")
    assert line.endswith(" (number):" if item.kind == "value" else ":")
    if len(one_line(title)) > MAX_LINE:
        assert "..." in line
