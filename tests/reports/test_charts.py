"""History charts: real PNGs, the same bytes every time, gaps as gaps, alt text that informs.

The chart test of the database side uses the sample register's 2025/26 history (BV8a Q1
worked out by hand in test_values_db.py: 97.4).
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PIL import Image, ImageChops, ImageStat
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.domain.enums import Polarity
from mailcapture.domain.periods import parse_period
from mailcapture.reports.charts import (
    GRID_COLOUR,
    MARGINS,
    TARGET_COLOUR,
    TEXT_COLOUR,
    VALUE_COLOUR,
    history_chart,
    palette_png,
)
from mailcapture.reports.history import history_periods, indicator_history
from tests.conftest import SampleRegister

D = Decimal
POINTS = [("Apr", D("96.5")), ("May", None), ("Jun", D("97.2")), ("Jul", D("98.0"))]


def decode_png(data: bytes) -> tuple[int, int, list[bytes], set[bytes]]:
    """Width, height, rows of RGBA pixels and the chunk types, with only the stdlib."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, idat = 8, set(), b""
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        chunks.add(kind)
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 6)  # 8-bit RGBA, as Agg writes
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4
    rows, prev = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        ftype, cur = line[0], bytearray(line[1:])
        for x in range(stride):
            a = cur[x - 4] if x >= 4 else 0
            b = prev[x]
            c = prev[x - 4] if x >= 4 else 0
            if ftype == 1:
                cur[x] = (cur[x] + a) & 0xFF
            elif ftype == 2:
                cur[x] = (cur[x] + b) & 0xFF
            elif ftype == 3:
                cur[x] = (cur[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (cur[x] + pred) & 0xFF
        rows.append(bytes(cur))
        prev = cur
    return width, height, rows, chunks


def value_colour_columns(rows: list[bytes]) -> set[int]:
    """The x positions where the value line's colour appears."""
    rgb = bytes.fromhex(VALUE_COLOUR[1:])
    found = set()
    for row in rows:
        for x in range(0, len(row), 4):
            if row[x : x + 3] == rgb:
                found.add(x // 4)
    return found


def test_png_decodes_at_a_fixed_size_and_is_deterministic():
    chart = history_chart("BV8a Invoices paid in time", POINTS, target=[D(97)] * 4, unit="%")
    again = history_chart("BV8a Invoices paid in time", POINTS, target=[D(97)] * 4, unit="%")
    assert chart.png == again.png
    assert chart.content_id() == again.content_id()
    width, height, rows, chunks = decode_png(chart.png)
    assert (width, height) == (640, 300)
    # No text chunk at all: nothing (software version, time) that could vary between runs.
    assert not chunks & {b"tEXt", b"iTXt", b"zTXt", b"tIME"}
    colours = {row[x : x + 3] for row in rows[::5] for x in range(0, len(row), 20)}
    assert len(colours) > 5
    different = history_chart("BV8a Invoices paid in time", POINTS[:3], unit="%")
    assert different.png != chart.png


def test_missing_value_is_a_gap_not_a_line():
    """Between Apr (a lone value) and Jun the value line must not be drawn."""
    gap = history_chart("Gap", POINTS)
    full = history_chart("Gap", [(p, v if v is not None else D("96.8")) for p, v in POINTS])
    _, _, gap_rows, _ = decode_png(gap.png)
    _, _, full_rows, _ = decode_png(full.png)
    with_gap, without_gap = value_colour_columns(gap_rows), value_colour_columns(full_rows)
    # Every column between the first and the third marker is coloured when there is no gap.
    span = sorted(without_gap)
    assert len(without_gap) > len(with_gap)
    missing = without_gap - with_gap
    # The columns lost are a wide run in the first two-thirds of the plot (Apr to Jun).
    assert len(missing) > 100
    assert max(missing) < span[0] + (span[-1] - span[0]) * 2 // 3 + 10
    # Apr's lone value is still drawn as a marker.
    assert min(with_gap) <= span[0] + 5


def test_alt_text_names_latest_value_target_and_direction():
    chart = history_chart(
        "BV8a Invoices paid in time",
        POINTS,
        target=[D(97)] * 4,
        unit="%",
        polarity=Polarity.HIGHER,
    )
    assert chart.alt == (
        "Chart of BV8a Invoices paid in time, Apr to Jul. Latest value 98% for Jul, "
        "against a target of 97%; improving (up) from 97.2% in Jun."
    )
    lower = history_chart(
        "Days to process",
        [("Q1", D("12")), ("Q2", D("15")), ("Q3", None)],
        target=[D(14), D(14), D(13)],
        unit="days",
        polarity=Polarity.LOWER,
    )
    assert lower.alt == (
        "Chart of Days to process, Q1 to Q3. Latest value 15 days for Q2 (no value yet for Q3), "
        "against a target of 14 days; worsening (up) from 12 days in Q1."
    )
    plain = history_chart("Count", [("Q1", D("5")), ("Q2", D("3"))])
    assert plain.alt.endswith("Latest value 3 for Q2, no target; down from 5 in Q1.")
    empty = history_chart("Nothing", [("Q1", None), ("Q2", None)])
    assert empty.alt == "Chart of Nothing, Q1 to Q2: no values yet."
    decode_png(empty.png)


def test_target_length_must_match():
    with pytest.raises(ValueError, match="2 targets for 4 points"):
        history_chart("x", POINTS, target=[D(1), D(2)])


def test_history_periods_are_of_the_same_kind_oldest_first():
    codes = [p.code for p in history_periods(parse_period("2026/27 Q1"), 5)]
    assert codes == ["2025/26 Q1", "2025/26 Q2", "2025/26 Q3", "2025/26 Q4", "2026/27 Q1"]


@pytest.mark.db
def test_indicator_history_from_the_sample_register(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    with sessions() as session:
        history = indicator_history(session, parse_period("2026/27 Q1"), 5, ["BV8a"])
    assert list(history) == ["BV8a"]
    values = history["BV8a"]
    assert [v.period for v in values] == [*[f"2025/26 Q{q}" for q in range(1, 5)], "2026/27 Q1"]
    assert values[0].value == D("97.4")  # worked out by hand in test_values_db.py
    assert all(v.value is not None for v in values[:4])
    assert values[4].value is None  # nothing captured yet for 2026/27 Q1
    chart = history_chart("BV8a", [(v.period, v.value) for v in values], unit="%")
    assert "Latest value 97.4% for 2025/26 Q1" not in chart.alt
    assert "(no value yet for 2026/27 Q1)" in chart.alt
    assert io.BytesIO(chart.png).read(4) == b"\x89PNG"


def test_email_png_is_the_same_picture_as_a_small_palette_png():
    """Emails carry the chart as a palette PNG: same size, the drawn colours exact, every
    pixel close to the original, the same bytes every time, a fraction of the size."""
    chart = history_chart("BV8a Invoices paid in time", POINTS, target=[D(97)] * 4, unit="%")
    small = chart.email_png
    assert (
        small
        == palette_png(chart.png)
        == history_chart(
            "BV8a Invoices paid in time", POINTS, target=[D(97)] * 4, unit="%"
        ).email_png
    )
    assert small[:8] == b"\x89PNG\r\n\x1a\n" and small[25] == 3  # IHDR colour type: palette
    assert len(small) * 3 < len(chart.png)
    with Image.open(io.BytesIO(chart.png)) as full, Image.open(io.BytesIO(small)) as email:
        assert email.size == full.size == (640, 300)
        assert not {"Software", "Creation Time"} & set(email.info)
        before, after = full.convert("RGB"), email.convert("RGB")
    drawn = {colour for _, colour in after.getcolors()}
    for colour in (VALUE_COLOUR, TARGET_COLOUR, TEXT_COLOUR, GRID_COLOUR, "#ffffff"):
        assert tuple(bytes.fromhex(colour[1:])) in drawn, colour
    difference = ImageStat.Stat(ImageChops.difference(before, after)).mean
    assert max(difference) < 1  # of 255: anti-aliased edges move a shade, nothing else


def left_spine_x(png: bytes) -> int:
    """The x of the plot area's left edge: the column with the longest run of axis colour."""
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
    ink = tuple(bytes.fromhex(TEXT_COLOUR[1:]))
    width, height = rgb.size
    pixels = rgb.load()
    counts = [sum(pixels[x, y] == ink for y in range(height)) for x in range(width // 3)]
    return max(range(len(counts)), key=counts.__getitem__)


def test_plot_areas_line_up_whatever_the_labels():
    """Fixed margins: a chart of millions and one of percentages put their axes in the same
    place, so charts one above another on a page line up (tight_layout moved them)."""
    small = history_chart("Small", POINTS, target=[D(97)] * 4, unit="%")
    large = history_chart("Large", [(p, v * 5000 if v else None) for p, v in POINTS], unit="number")
    factor = history_chart("Factor", [(p, v * 10**6 if v else None) for p, v in POINTS], unit="£")
    months = history_chart("Months", [(f"2026-{m:02d}", D(m)) for m in range(1, 13)])
    edges = {left_spine_x(c.png) for c in (small, large, factor, months)}
    assert edges == {round(MARGINS["left"] * 640)}, edges
