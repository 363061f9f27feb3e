"""The LG Inform and Single Data List returns (issue 16, part 4), cell by cell, on both
databases.

The test writes a year of component values (2026/27) for a few indicators of the sample
register, gives them LG Inform ids and SDL references, and works out every row it expects
from those numbers alone: the sums, the last values, the ratios and their rounding are
done here with :mod:`decimal`, not by mailcapture's code.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.db.engine import transaction
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import SubmissionSource, SubmissionState
from mailcapture.domain.periods import parse_period
from mailcapture.reports.export import to_csv
from mailcapture.reports.government_returns import (
    ReturnsError,
    lginform_return,
    sdl_return,
)
from tests.conftest import SampleRegister
from tests.snapshots import run_cli

D = Decimal
NOW = datetime(2027, 4, 20, 9, 0, tzinfo=UTC)
YEAR = "2026/27"
AREA = "E07999999"  # the sample council's (fictional) code
MONTHS = [f"2026-{m:02d}" for m in range(4, 13)] + [f"2027-{m:02d}" for m in range(1, 4)]
QUARTERS = [f"{YEAR} Q{q}" for q in range(1, 5)]

# The figures written, by component and period (2026/27).
PAID = dict(
    zip(
        MONTHS,
        [1601, 1544, 1702, 1650, 1499, 1610, 1733, 1652, 1420, 1668, 1622, 1871],
        strict=True,
    )
)
INVOICES = dict(
    zip(
        MONTHS,
        [1640, 1590, 1731, 1700, 1550, 1660, 1771, 1702, 1490, 1722, 1650, 1903],
        strict=True,
    )
)
#: BV9 (council tax, year to date; "last"): Q4 is not in, so there is no year figure.
CT_COLLECTED = dict(zip(QUARTERS[:3], [29410500, 57220330, 84012977], strict=True))
CT_DEBIT = dict(zip(QUARTERS[:3], [99120400, 99305170, 99411115], strict=True))
RESIDUAL = dict(zip(QUARTERS, [5790, 5802, 5711, 5433], strict=True))  # NI191.1, tonnes (sum)
HOUSEHOLDS = dict(zip(QUARTERS, [52790, 52844, 52931, 53017], strict=True))  # HH.1 (last)
RECYCLED = dict(zip(QUARTERS, [6233, 6104, 4802, 4391], strict=True))  # NI192.1 (sum)
COLLECTED = dict(zip(QUARTERS, [12011, 11902, 10588, 9820], strict=True))  # NI192.2 (sum)
NET_HOMES = {YEAR: 412}  # NI154.1, annual, a count: no ratio

#: The ids and references the test gives (the sample has NI192's 46 and 082-00 already,
#: and NI191's 082-00). Those other than 46 and 082-00 are made up for the test.
LG_INFORM = {"NI192": 46, "BV8a": 9001, "BV9": 9002, "NI191": 9003, "NI154": 9004}
SDL = {"BV8a": "901-01", "BV9": "900-00", "NI154": "902-00"}


def rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def ratio(scale: int, numerator: int, denominator: int, places: int) -> Decimal:
    return rounded(D(scale) * D(numerator) / D(denominator), places)


def months_of(quarter: str) -> list[str]:
    index = int(quarter[-1]) - 1
    return MONTHS[3 * index : 3 * index + 3]


# ------------------------------------------------------------------------ expected rows


def expected_bv8a() -> dict[str, tuple[Decimal, int, int]]:
    """BV8a = 100 * paid / invoices, 1 decimal, every component summed."""
    rows: dict[str, tuple[Decimal, int, int]] = {}
    year = (sum(PAID.values()), sum(INVOICES.values()))
    rows[YEAR] = (ratio(100, *year, 1), *year)
    for quarter in QUARTERS:
        parts = (
            sum(PAID[m] for m in months_of(quarter)),
            sum(INVOICES[m] for m in months_of(quarter)),
        )
        rows[quarter] = (ratio(100, *parts, 1), *parts)
        for month in months_of(quarter):
            rows[month] = (
                ratio(100, PAID[month], INVOICES[month], 1),
                PAID[month],
                INVOICES[month],
            )
    return rows


def expected_bv9() -> dict[str, tuple[Decimal, int, int]]:
    """BV9 = 100 * collected / debit, both "last": each quarter its own figures."""
    return {
        q: (ratio(100, CT_COLLECTED[q], CT_DEBIT[q], 1), CT_COLLECTED[q], CT_DEBIT[q])
        for q in QUARTERS[:3]
    }


def expected_ni191() -> dict[str, tuple[Decimal, int, int]]:
    """NI191 = 1000 * residual tonnes (sum) / households (last), 1 decimal."""
    rows = {YEAR: (sum(RESIDUAL.values()), HOUSEHOLDS[QUARTERS[-1]])}
    rows.update({q: (RESIDUAL[q], HOUSEHOLDS[q]) for q in QUARTERS})
    return {p: (ratio(1000, n, d, 1), n, d) for p, (n, d) in rows.items()}


def expected_ni192() -> dict[str, tuple[Decimal, int, int]]:
    """NI192 = 100 * recycled / collected, both summed, 1 decimal."""
    rows = {YEAR: (sum(RECYCLED.values()), sum(COLLECTED.values()))}
    rows.update({q: (RECYCLED[q], COLLECTED[q]) for q in QUARTERS})
    return {p: (ratio(100, n, d, 1), n, d) for p, (n, d) in rows.items()}


def report_order(periods: dict[str, tuple[Decimal, int, int]]) -> list[str]:
    """The year, then each quarter followed by its months, as --period lists them."""
    order = [YEAR]
    for quarter in QUARTERS:
        order += [quarter, *months_of(quarter)]
    return [p for p in order if p in periods]


# ------------------------------------------------------------------------ the database


@pytest.fixture
def year_of_values(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, NOW)
    figures = {
        "BV8a.1": PAID,
        "BV8a.2": INVOICES,
        "BV9.1": CT_COLLECTED,
        "BV9.2": CT_DEBIT,
        "NI191.1": RESIDUAL,
        "HH.1": HOUSEHOLDS,
        "NI192.1": RECYCLED,
        "NI192.2": COLLECTED,
        "NI154.1": NET_HOMES,
    }
    with transaction(sessions) as session:
        periods = PeriodStore(session)
        person = session.scalar(select(m.Person.id).order_by(m.Person.id).limit(1))
        components = dict(session.execute(select(m.Component.code, m.Component.id)).all())
        for code, values in figures.items():
            for period, value in values.items():
                session.add(
                    m.ComponentValue(
                        component_id=components[code],
                        period_id=periods.get(parse_period(period)).id,
                        state=SubmissionState.ACCEPTED,
                        value=D(value),
                        source=SubmissionSource.EMAIL,
                        submitted_by_id=person,
                        received_at=NOW,
                        is_current=True,
                    )
                )
        # A figure replaced by a correction, and one refused: neither may count.
        for state, value in [(SubmissionState.SUPERSEDED, 1), (SubmissionState.REJECTED, 99999)]:
            session.add(
                m.ComponentValue(
                    component_id=components["BV8a.1"],
                    period_id=periods.get(parse_period("2026-04")).id,
                    state=state,
                    value=D(value),
                    source=SubmissionSource.EMAIL,
                    submitted_by_id=person,
                    received_at=NOW,
                    is_current=False,
                )
            )
        for code, metric in LG_INFORM.items():
            session.execute(
                update(m.Indicator).where(m.Indicator.code == code).values(lg_inform_id=metric)
            )
        for code, reference in SDL.items():
            session.execute(
                update(m.Indicator).where(m.Indicator.code == code).values(sdl_reference=reference)
            )
    return sessions


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def assert_row(got: list[str], want: list[object]) -> None:
    """Text cells exactly; the value as published (its decimals too); the numerator and
    denominator as numbers (the database may store 5790 as 5790.000000)."""
    assert len(got) == len(want), (got, want)
    for cell, expected in zip(got, want, strict=True):
        if expected is None:
            assert cell == "", (got, want)
        elif isinstance(expected, int):
            assert cell != "" and D(cell) == expected, (got, want)
        else:
            assert cell == str(expected), (got, want)


def lginform_expected() -> list[list[object]]:
    rows: list[list[object]] = []
    by_metric = {
        46: expected_ni192(),
        9001: expected_bv8a(),
        9002: expected_bv9(),
        9003: expected_ni191(),
    }
    for metric, periods in by_metric.items():
        for period in report_order(periods):
            value, numerator, denominator = periods[period]
            rows.append([AREA, str(metric), period, value, numerator, denominator])
    rows.append([AREA, "9004", YEAR, str(NET_HOMES[YEAR]), None, None])  # a count: no ratio
    return rows


# ------------------------------------------------------------------------ LG Inform


def test_lginform_return_cell_by_cell(year_of_values: sessionmaker[Session]) -> None:
    with year_of_values() as session:
        returns = lginform_return(session, parse_period(YEAR))
    rows = parsed(to_csv(returns.table))
    assert rows[0] == [
        "ons_area_code",
        "lg_inform_id",
        "period",
        "value",
        "numerator",
        "denominator",
    ]
    want = lginform_expected()
    assert [r[1:3] for r in rows[1:]] == [[str(w[1]), w[2]] for w in want]
    for got, expected in zip(rows[1:], want, strict=True):
        assert_row(got, expected)
    # BV9 has no Q4, so no year figure: left out of the rows, named in the gaps.
    assert returns.gaps == [("BV9", "missing component BV9.1 for 2026/27 Q4")]


def test_lginform_needs_the_area_code_and_a_year(year_of_values: sessionmaker[Session]) -> None:
    with (
        year_of_values() as session,
        pytest.raises(ReturnsError, match=r"--period: a return is for a financial year"),
    ):
        lginform_return(session, parse_period("2026/27 Q1"))
    with transaction(year_of_values) as session:
        session.delete(session.get_one(m.ServiceSetting, "council"))
    with (
        year_of_values() as session,
        pytest.raises(ReturnsError, match="the register gives no ONS area code"),
    ):
        lginform_return(session, parse_period(YEAR))


# ------------------------------------------------------------------------ Single Data List


def test_sdl_return_cell_by_cell_with_text_neutralised(
    year_of_values: sessionmaker[Session],
) -> None:
    with transaction(year_of_values) as session:
        session.execute(
            update(m.Indicator)
            .where(m.Indicator.code == "NI154")
            .values(title='=HYPERLINK("http://evil.example","homes")')
        )
    with year_of_values() as session:
        returns = sdl_return(session, parse_period(YEAR))
        titles = dict(session.execute(select(m.Indicator.code, m.Indicator.title)).all())
    rows = parsed(to_csv(returns.table))
    assert rows[0] == [
        "sdl_reference",
        "indicator",
        "title",
        "period",
        "value",
        "numerator",
        "denominator",
    ]
    ni191, ni192, bv8a = expected_ni191()[YEAR], expected_ni192()[YEAR], expected_bv8a()[YEAR]
    want: list[list[object]] = [
        ["082-00", "NI191", titles["NI191"], YEAR, *ni191],
        ["082-00", "NI192", titles["NI192"], YEAR, *ni192],
        # Every reference is listed, with an empty value until it can be computed.
        ["900-00", "BV9", titles["BV9"], YEAR, None, None, None],
        ["901-01", "BV8a", titles["BV8a"], YEAR, *bv8a],
        [
            "902-00",
            "NI154",
            '\'=HYPERLINK("http://evil.example","homes")',
            YEAR,
            str(NET_HOMES[YEAR]),
            None,
            None,
        ],
    ]
    assert [r[:2] for r in rows[1:]] == [[str(w[0]), str(w[1])] for w in want]
    for got, expected in zip(rows[1:], want, strict=True):
        assert_row(got, expected)
    assert returns.gaps == [("BV9", "missing component BV9.1 for 2026/27 Q4")]


def test_a_retired_indicator_is_left_out(year_of_values: sessionmaker[Session]) -> None:
    with transaction(year_of_values) as session:
        session.execute(update(m.Indicator).where(m.Indicator.code == "BV9").values(retired_at=NOW))
    with year_of_values() as session:
        sdl = sdl_return(session, parse_period(YEAR))
        lginform = lginform_return(session, parse_period(YEAR))
    assert "BV9" not in {row[1] for row in sdl.table.rows}
    assert 9002 not in {row[1] for row in lginform.table.rows}
    assert sdl.gaps == lginform.gaps == []


# ------------------------------------------------------------------------ the command


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "out-file"])
def test_the_command_writes_both_returns(
    year_of_values: sessionmaker[Session],
    cli_env: dict[str, str],
    tmp_path: Path,
    to_file: bool,
) -> None:
    out = tmp_path / "return.csv"
    # Every value of the five indicators with an LG Inform id; the five SDL references.
    counts = {"lginform": len(lginform_expected()), "sdl": 5}
    for fmt, header in [("lginform", "ons_area_code"), ("sdl", "sdl_reference")]:
        count = counts[fmt]
        args = ["export", "returns", "--period", YEAR, "--format", fmt]
        result = run_cli(*args, *(["--out", str(out)] if to_file else []), env=cli_env)
        assert result.code == 0, result.stderr
        text = out.read_text(encoding="utf-8") if to_file else result.stdout
        rows = parsed(text)
        assert rows[0][0] == header
        assert len(rows) - 1 == count
        if to_file:
            assert result.stdout.strip() == f"{count} row(s) written to {out}"
        assert result.stderr == (
            "mailcapture: no value for BV9 in 2026/27: missing component BV9.1 for 2026/27 Q4\n"
        )
    assert counts["lginform"] == 5 + 17 + 3 + 5 + 1  # NI192, BV8a, BV9, NI191, NI154


def test_the_command_refuses_a_quarter_and_an_unknown_format(
    year_of_values: sessionmaker[Session], cli_env: dict[str, str]
) -> None:
    quarter = run_cli("export", "returns", "--period", "2026/27 Q2", "--format", "sdl", env=cli_env)
    assert quarter.code == 1
    assert quarter.stderr == (
        "mailcapture: error: --period: a return is for a financial year (e.g. 2026/27), "
        "not 2026/27 Q2\n"
    )
    unreadable = run_cli("export", "returns", "--period", "20X6", "--format", "sdl", env=cli_env)
    assert unreadable.code == 1
    assert unreadable.stderr.startswith("mailcapture: error: --period: ")
    wrong = run_cli("export", "returns", "--period", YEAR, "--format", "xlsx", env=cli_env)
    assert wrong.code != 0
    assert "xlsx" in wrong.stderr
