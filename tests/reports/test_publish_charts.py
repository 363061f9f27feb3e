"""``publish``'s charts: drawn once per data and style, the same bytes from a pool or not.

Draws are counted by wrapping :func:`mailcapture.reports.charts.draw` where
:mod:`mailcapture.publish.charts` calls it (in this process), never timed; the pool's draws
happen in other processes, so the pool tests compare bytes and :class:`DrawReport` counts.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from mailcapture.publish import charts as publish_charts
from mailcapture.publish.charts import (
    IN_PROCESS_UP_TO,
    PRUNE_AFTER,
    ChartCache,
    ChartOptions,
    draw_charts,
)
from mailcapture.reports import charts as report_charts
from mailcapture.reports.charts import Chart, ChartData, draw, history_chart
from mailcapture.settings import SettingsError, chart_cache_dir, chart_workers

D = Decimal
QUARTERS = ["2025/26 Q1", "2025/26 Q2", "2025/26 Q3", "2025/26 Q4", "2026/27 Q1"]


def chart(n: int, latest: str = "97.4") -> Chart:
    """Indicator ``n``'s chart: five quarters, one gap, a target; ``latest`` the last value."""
    values = [D(90 + n % 7), D("96.5"), None, D(98), D(latest)]
    return history_chart(
        f"IND{n} Percentage of things done on time",
        list(zip(QUARTERS, values, strict=True)),
        target=[D(97)] * 5,
        unit="%",
    )


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ChartData]]:
    """Every chart drawn in this process by ``draw_charts``, in order."""
    seen: list[ChartData] = []

    def counting(data: ChartData) -> bytes:
        seen.append(data)
        return draw(data)

    monkeypatch.setattr(publish_charts, "draw", counting)
    yield seen


def in_process(cache: Path | None) -> ChartOptions:
    return ChartOptions(cache=cache, workers=1)


def test_an_unchanged_chart_is_not_drawn_again(tmp_path: Path, draws: list[ChartData]) -> None:
    first = [chart(n) for n in range(5)]
    done = draw_charts(first, in_process(tmp_path / "cache"))
    assert (done.charts, done.drawn, done.cached) == (5, 5, 0)
    assert len(draws) == 5

    # A second publish builds new Chart objects from the same figures: all read back.
    again = [chart(n) for n in range(5)]
    done = draw_charts(again, in_process(tmp_path / "cache"))
    assert (done.drawn, done.cached) == (0, 5)
    assert len(draws) == 5
    assert [c.png for c in again] == [c.png for c in first]
    assert len(list((tmp_path / "cache").glob("*/*.png"))) == 5


def test_a_changed_figure_is_drawn_again_and_only_that_one(
    tmp_path: Path, draws: list[ChartData]
) -> None:
    draw_charts([chart(n) for n in range(5)], in_process(tmp_path))
    draws.clear()
    charts = [chart(n) for n in range(5)]
    charts[3] = chart(3, latest="97.5")
    done = draw_charts(charts, in_process(tmp_path))
    assert (done.drawn, done.cached) == (1, 4)
    assert draws == [charts[3].data]
    assert charts[3].png == draw(charts[3].data) != chart(3).png


def test_the_same_data_twice_is_drawn_once(draws: list[ChartData]) -> None:
    twins = [chart(1), chart(1)]
    done = draw_charts(twins, in_process(None))
    assert (done.charts, done.drawn) == (1, 1)
    assert len(draws) == 1 and twins[0].png == twins[1].png


def test_every_input_of_the_picture_changes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    base = chart(1).data
    variants = [
        ChartData(base.title + "!", base.labels, base.values, base.targets, base.unit),
        ChartData(
            base.title, (*base.labels[:-1], "2026/27 Q2"), base.values, base.targets, base.unit
        ),
        ChartData(base.title, base.labels, (*base.values[:-1], 97.41), base.targets, base.unit),
        ChartData(base.title, base.labels, base.values, None, base.unit),
        ChartData(base.title, base.labels, base.values, base.targets, "days"),
    ]
    keys = {base.key, *(v.key for v in variants)}
    assert len(keys) == 1 + len(variants)
    same = ChartData(base.title, base.labels, base.values, base.targets, base.unit)
    assert same.key == base.key  # NaN gaps included: equal data, equal key

    # A new style version (or matplotlib, Pillow, zlib) gives every chart a new key.
    monkeypatch.setattr(report_charts, "STYLE_VERSION", report_charts.STYLE_VERSION + 1)
    report_charts._drawing_versions.cache_clear()
    try:
        restyled = ChartData(base.title, base.labels, base.values, base.targets, base.unit)
        assert restyled.key != base.key
    finally:
        monkeypatch.undo()
        report_charts._drawing_versions.cache_clear()


def test_the_pool_draws_the_same_bytes_as_this_process(tmp_path: Path) -> None:
    count = IN_PROCESS_UP_TO + 6
    pooled = [chart(n) for n in range(count)]
    done = draw_charts(pooled, ChartOptions(cache=tmp_path, workers=2))
    assert (done.drawn, done.workers) == (count, 2)
    # Drawn here from the same data, and read back from what the pool put in the cache.
    assert [c.png for c in pooled] == [draw(c.data) for c in pooled]
    cached = [chart(n) for n in range(count)]
    assert draw_charts(cached, ChartOptions(cache=tmp_path, workers=2)).drawn == 0
    assert [c.png for c in cached] == [c.png for c in pooled]


def test_a_handful_of_charts_is_drawn_in_process(draws: list[ChartData]) -> None:
    done = draw_charts([chart(n) for n in range(IN_PROCESS_UP_TO)], ChartOptions(None, 2))
    assert (done.drawn, done.workers) == (IN_PROCESS_UP_TO, 0)
    assert len(draws) == IN_PROCESS_UP_TO


def test_a_broken_cache_file_is_drawn_again(tmp_path: Path, draws: list[ChartData]) -> None:
    one = chart(1)
    draw_charts([one], in_process(tmp_path))
    path = ChartCache(tmp_path).path(one.data.key)
    path.write_bytes(one.png[: len(one.png) // 2])  # cut short, as by a full disk
    again = chart(1)
    assert draw_charts([again], in_process(tmp_path)).drawn == 1
    assert again.png == one.png
    assert path.read_bytes() == one.png


def test_a_cache_that_cannot_be_written_never_fails_publishing(
    tmp_path: Path, draws: list[ChartData], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    charts = [chart(n) for n in range(3)]
    with caplog.at_level(logging.WARNING, logger="mailcapture.publish.charts"):
        done = draw_charts(charts, in_process(blocker / "cache"))
    assert done.drawn == 3 and all(c.png.startswith(b"\x89PNG") for c in charts)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "cannot write" in warnings[0], warnings


def test_charts_unused_for_long_are_pruned(tmp_path: Path) -> None:
    old, recent = chart(1), chart(2)
    draw_charts([old, recent], in_process(tmp_path))
    cache = ChartCache(tmp_path)
    stale = time.time() - PRUNE_AFTER.total_seconds() - 3600
    os.utime(cache.path(old.data.key), (stale, stale))
    os.utime(cache.path(recent.data.key), (stale, stale))
    # Publishing with only the second chart marks it used; the first goes.
    draw_charts([chart(2)], in_process(tmp_path))
    assert not cache.path(old.data.key).exists()
    assert cache.path(recent.data.key).exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Path("mail/chart-cache")),
        ({"MAILCAPTURE_MAIL_DIR": "/data/mail/outbox"}, Path("/data/mail/chart-cache")),
        ({"MAILCAPTURE_STATE_DIR": "/var/lib/mc"}, Path("/var/lib/mc/chart-cache")),
        ({"MAILCAPTURE_CHART_CACHE": "/var/cache/mc"}, Path("/var/cache/mc")),
        ({"MAILCAPTURE_CHART_CACHE": "off"}, None),
    ],
)
def test_where_the_cache_is(env: dict[str, str], expected: Path | None) -> None:
    assert chart_cache_dir(env) == expected


def test_chart_workers_setting() -> None:
    assert chart_workers({"MAILCAPTURE_CHART_WORKERS": "3"}) == 3
    assert chart_workers({}) >= 1
    for wrong in ["0", "-1", "two"]:
        with pytest.raises(SettingsError, match="MAILCAPTURE_CHART_WORKERS"):
            chart_workers({"MAILCAPTURE_CHART_WORKERS": wrong})
