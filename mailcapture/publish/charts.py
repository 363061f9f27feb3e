"""Drawing a published site's charts: only those not drawn before, on every CPU.

Drawing is nearly all of ``publish``'s work (about 45 ms of matplotlib per chart, against
a few milliseconds for an indicator's page), and a council re-publishes a quarter many
times while figures are corrected, most charts unchanged. So :func:`draw_charts`:

* **keeps every chart it draws** in a cache folder (:class:`ChartCache`), one PNG per
  :attr:`~mailcapture.reports.charts.ChartData.key`: a hash of the figures, labels,
  targets, title and unit, the chart code's :data:`~mailcapture.reports.charts.STYLE_VERSION`
  and the versions of matplotlib, Pillow and zlib. An unchanged indicator is read back, not
  drawn; a changed figure, or a new matplotlib, gives a new key and a fresh drawing. The
  cached bytes are the bytes :func:`~mailcapture.reports.charts.draw` returned, so a
  re-publish writes the same files as the first publish (the site's determinism holds).
* **draws the rest in a process pool** (matplotlib holds the GIL: threads would not help),
  ``spawn``-started so a worker shares nothing with the caller (no database connection,
  no threads, no matplotlib state inherited half-way through a draw), each worker
  importing matplotlib once in its initializer. Starting a worker costs about as much as
  drawing 20 charts, so :data:`IN_PROCESS_UP_TO` charts or fewer are drawn in the
  calling process, as are all of them when one worker is asked for.

The cache is safe to delete at any time (the next publish redraws), safe for two publishes
at once (each file is written to a temporary name and renamed into place), and prunes
itself: a chart no publish has used for :data:`PRUNE_AFTER` is removed. A cache that cannot
be read or written is logged and skipped; it never fails a publish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from mailcapture.progress import NO_PROGRESS, Progress
from mailcapture.reports.charts import Chart, ChartData, draw
from mailcapture.settings import chart_cache_dir, chart_workers

log = logging.getLogger(__name__)

#: Up to this many charts to draw, the calling process draws them itself: a spawned worker
#: takes about a second to start and import matplotlib, some 20 charts' worth of drawing.
IN_PROCESS_UP_TO = 24

#: A cached chart unused by any publish for this long is deleted (a chart of a past
#: quarter, or of figures since corrected); re-publishing an old period just redraws.
PRUNE_AFTER = timedelta(days=90)

_PNG_START = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class ChartOptions:
    """Where the cache is (None: no cache) and how many processes may draw."""

    cache: Path | None
    workers: int

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> ChartOptions:
        """``MAILCAPTURE_CHART_CACHE`` and ``MAILCAPTURE_CHART_WORKERS`` (see the README)."""
        return cls(cache=chart_cache_dir(env), workers=chart_workers(env))


@dataclass
class DrawReport:
    """What :func:`draw_charts` did, by count (the tests count draws, never time them)."""

    #: Distinct charts asked for (charts of identical data count once).
    charts: int = 0
    #: Read back from the cache.
    cached: int = 0
    #: Drawn by this call.
    drawn: int = 0
    #: Processes drawn with: 0 when drawn in the calling process (or nothing was drawn).
    workers: int = 0
    #: Keys drawn by this call, in order (for tests and the benchmark).
    drawn_keys: list[str] = field(default_factory=list)


class ChartCache:
    """PNG files by chart key: ``<folder>/<first two hex digits>/<key>.png``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._broken = False

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.png"

    def get(self, key: str) -> bytes | None:
        """The cached picture, or None when absent or not a whole PNG (then it is redrawn)."""
        if self._broken:
            return None
        path = self.path(key)
        try:
            png = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None  # not drawn yet (or the folder is wrong: put() will say so)
        except OSError as exc:
            self._give_up("read", exc)
            return None
        if not (png.startswith(_PNG_START) and png.endswith(_PNG_END)):
            return None
        # Used now (see prune()); a read-only cache still serves, it just cannot say so.
        with contextlib.suppress(OSError):
            os.utime(path)
        return png

    def put(self, key: str, png: bytes) -> None:
        """Store ``png`` under ``key``: written aside, then renamed into place, so a reader
        (another publish) sees the whole file or none."""
        if self._broken:
            return
        path = self.path(key)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(png)
            os.replace(temp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            self._give_up("write", exc)

    def prune(self, older_than: timedelta = PRUNE_AFTER) -> int:
        """Delete charts unused for ``older_than`` (by file time, the wall clock: this is
        housekeeping of files, not a date in the data); returns how many."""
        if self._broken or not self.folder.is_dir():
            return 0
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        try:
            for path in self.folder.glob("*/*.png"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
        except OSError as exc:
            self._give_up("prune", exc)
        return removed

    def _give_up(self, doing: str, exc: OSError) -> None:
        """One warning, then no more use of the cache in this run: publish carries on."""
        self._broken = True
        log.warning(
            "chart cache %s: cannot %s (%s); drawing every chart",
            self.folder,
            doing,
            exc.strerror or exc,
        )


def draw_charts(
    charts: Iterable[Chart],
    options: ChartOptions | None = None,
    progress: Progress = NO_PROGRESS,
) -> DrawReport:
    """Give every chart its PNG: from the cache, else drawn (in a pool when many).

    Charts already drawn are left alone. ``options`` default to the environment's.
    """
    options = ChartOptions.from_environment() if options is None else options
    cache = ChartCache(options.cache) if options.cache is not None else None
    report = DrawReport()
    wanted: dict[str, list[Chart]] = {}
    for chart in charts:
        if not chart.drawn:
            wanted.setdefault(chart.data.key, []).append(chart)
    report.charts = len(wanted)
    todo: dict[str, list[Chart]] = {}
    for key, same in wanted.items():
        png = cache.get(key) if cache is not None else None
        if png is None:
            todo[key] = same
            continue
        report.cached += 1
        for chart in same:
            chart.use_png(png)

    progress.start("charts", len(todo))
    datas = [same[0].data for same in todo.values()]
    workers = min(options.workers, len(datas))
    pool = workers > 1 and len(datas) > IN_PROCESS_UP_TO
    report.workers = workers if pool else 0
    drawn = _in_pool(datas, workers) if pool else map(draw, datas)
    for (key, same), png in zip(todo.items(), drawn, strict=True):
        for chart in same:
            chart.use_png(png)
        if cache is not None:
            cache.put(key, png)
        report.drawn += 1
        report.drawn_keys.append(key)
        progress.advance()
    if cache is not None:
        cache.prune()
    return report


def _in_pool(datas: Sequence[ChartData], workers: int) -> Iterable[bytes]:
    """``draw`` of each in ``workers`` spawned processes, in order, as they finish."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Several charts per task: one round trip to a worker costs about a millisecond.
    chunk = max(1, min(8, len(datas) // (workers * 4)))
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
    )
    try:
        yield from executor.map(draw, datas, chunksize=chunk)
    except BaseException:
        # Ctrl-C or a failed draw: drop the queued charts rather than wait for them all.
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _start_worker() -> None:
    """In each new worker: leave Ctrl-C to the parent (which stops the pool), and import
    matplotlib and load its font list before the first chart rather than during it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from matplotlib import font_manager
    from matplotlib.backends import backend_agg  # noqa: F401

    font_manager.findfont("DejaVu Sans")
