"""History charts for reports: a PNG and a sentence saying what it shows.

Used by the report emails (inline images referenced by Content-ID) and by the published
site and PDF, so one indicator's chart looks the same wherever it appears.

Decisions worth knowing:

* **matplotlib's object API on the Agg canvas**, never ``pyplot``: pyplot keeps global
  figure state and picks a GUI backend, neither of which a service sending mail from
  several threads wants.
* **Deterministic bytes.** A fixed size and dpi, matplotlib's bundled DejaVu font, a fixed
  ``rcParams`` set, a fresh figure for every chart, fixed margins (:data:`MARGINS`) and PNG
  metadata without the "Software" stamp, so the same figures give the same file in any
  process (published sites can be compared, emails deduplicated by content, charts drawn
  by a pool worker or read from the publish cache equal those drawn here).
* **Drawn when needed, from a small value.** :func:`history_chart` writes the alt text and
  keeps the figures as :class:`ChartData`; :func:`draw` turns that into PNG bytes the first
  time :attr:`Chart.png` is read, or ``publish`` draws many at once in a process pool and
  keeps them in a cache keyed by :attr:`ChartData.key` (:mod:`mailcapture.publish.charts`).
* **Gaps are gaps.** A period without a value is drawn as a break in the line, never as a
  zero or an interpolation; the x axis still names the period so the reader sees what is
  missing. A lone value between gaps still shows as a marker.
* **Smaller in email.** An email carries its charts inline (the quarterly report has two
  dozen), so :attr:`Chart.email_png` is the same picture as a palette PNG of
  :data:`EMAIL_COLOURS` colours: same pixels, same lines and text, about a quarter of the
  bytes. The site and the PDF keep the full-colour PNG.
* **The alt text carries the message**, not a description of the picture: latest value,
  its target and the direction since the previous value, so a screen-reader user (or a
  plain-text email reader) learns what a sighted reader would.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from mailcapture.domain.enums import Polarity
from mailcapture.domain.figures import format_figure

if TYPE_CHECKING:  # matplotlib is imported only when drawing
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

#: Inches and dots per inch: 640 x 300 pixels, readable in an email and on a page.
SIZE = (6.4, 3.0)
DPI = 100

#: Raise whenever a change to :func:`draw` or its constants changes the pictures: it is part
#: of every chart's cache key (:attr:`ChartData.key`), so published charts drawn by older
#: code are drawn again rather than reused.
STYLE_VERSION = 2

#: The plot area within the figure (fractions of its width and height), fixed rather than
#: fitted to each chart: room on the left for tick labels of up to six or seven characters
#: (``100000``, ``-97.25``) and the unit beside them, on the right for half of the last
#: period label (centred on its tick at the very edge when there are no values), at the top
#: for the title, at the bottom for the period labels, which are turned 45 degrees when
#: there are more than six (thirteen months) and need more height then.
MARGINS = {"left": 0.13, "right": 0.94, "top": 0.89, "bottom": 0.11}
MARGINS_ROTATED = {**MARGINS, "bottom": 0.23}
#: Where the unit is written (the y axis label), as a fraction of the figure's width.
UNIT_X = 0.03
#: Top margin and title padding (points) when the y axis writes a common factor above
#: itself ("1e6" for millions): the title goes up, clear of it.
TOP_WITH_FACTOR = 0.83
TITLE_PAD, TITLE_PAD_WITH_FACTOR = 6.0, 20.0

#: Colours in the palette of a chart sent by email: the five drawn colours and white, and
#: enough shades between them for smooth (anti-aliased) lines and text.
EMAIL_COLOURS = 32

#: Colours with at least 4.5:1 contrast on white for the lines and text.
VALUE_COLOUR = "#1d4f91"
TARGET_COLOUR = "#6b4e00"
TEXT_COLOUR = "#1a1a1a"
GRID_COLOUR = "#d9d9d9"

_RC: dict[RcKeyType, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.edgecolor": TEXT_COLOUR,
    "axes.labelcolor": TEXT_COLOUR,
    "xtick.color": TEXT_COLOUR,
    "ytick.color": TEXT_COLOUR,
    "text.color": TEXT_COLOUR,
    "path.simplify": False,
    "svg.hashsalt": "mailcapture",
}


@dataclass(frozen=True)
class ChartData:
    """Everything a chart's picture depends on besides the code drawing it.

    Small, immutable and picklable: it is what goes to a drawing process
    (:func:`draw` is a top-level function, so a spawned worker can import it) and, with
    :data:`STYLE_VERSION` and the drawing libraries' versions, what the publish cache keys
    a picture by (:attr:`key`).
    """

    title: str
    labels: tuple[str, ...]
    #: One per label; NaN where there is no value (a gap).
    values: tuple[float, ...]
    #: One per label (NaN where there is none), or None when the chart has no target line.
    targets: tuple[float, ...] | None
    unit: str

    @functools.cached_property
    def key(self) -> str:
        """A hash of the data, the style and the libraries that turn them into bytes.

        Floats are written with ``repr`` (exact round trip) and NaN as null, so equal data
        always gives the same key and any change to a figure, label or target another.
        """

        def exact(xs: Sequence[float] | None) -> list[str | None] | None:
            return None if xs is None else [None if math.isnan(x) else repr(x) for x in xs]

        text = json.dumps(
            [
                _drawing_versions(),
                self.title,
                list(self.labels),
                exact(self.values),
                exact(self.targets),
                self.unit,
            ],
            ensure_ascii=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Chart:
    """A chart: the sentence that stands in for it, and its PNG, drawn when first needed.

    Building a chart costs next to nothing; drawing it is most of a report's work. So the
    picture is drawn on first use of :attr:`png` (the report emails, a handful of charts)
    unless it was handed over first with :meth:`use_png`, which is how ``publish`` fills
    in charts it drew in a process pool or found in its cache.
    """

    title: str
    alt: str
    data: ChartData

    @functools.cached_property
    def png(self) -> bytes:
        return draw(self.data)

    def use_png(self, png: bytes) -> None:
        """Take ``png``, drawn elsewhere from this chart's :attr:`data`, as the picture."""
        # What cached_property itself does: the frozen dataclass's __setattr__ is bypassed.
        self.__dict__["png"] = png

    @property
    def drawn(self) -> bool:
        """Whether :attr:`png` is known (drawn here or handed over) without drawing now."""
        return "png" in self.__dict__

    @functools.cached_property
    def email_png(self) -> bytes:
        """The picture as a palette PNG for email: the same pixels in fewer bytes."""
        return palette_png(self.png)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.png).hexdigest()[:16]

    def content_id(self, domain: str = "mailcapture.invalid") -> str:
        """A Content-ID (without angle brackets) stable for the same picture."""
        return f"chart-{self.digest}@{domain}"

    @property
    def filename(self) -> str:
        return f"chart-{self.digest}.png"


def history_chart(
    title: str,
    points: Sequence[tuple[str, Decimal | None]],
    *,
    target: Sequence[Decimal | None] | None = None,
    unit: str = "",
    polarity: Polarity | None = None,
    decimals: int | None = None,
) -> Chart:
    """A line chart of ``points`` (period label, value) with the target as a dashed line.

    ``target``, when given, has one entry per point (None where there is no target).
    ``polarity`` only changes the words of the alt text ("improving" rather than "up");
    ``decimals`` writes its figures as the report does (97.0%, not 97%). Nothing is drawn
    yet: see :class:`Chart`.
    """
    if target is not None and len(target) != len(points):
        raise ValueError(f"{len(target)} targets for {len(points)} points")
    data = ChartData(
        title=title,
        labels=tuple(label for label, _ in points),
        values=tuple(_as_float(v) for _, v in points),
        targets=tuple(_as_float(t) for t in target) if target is not None else None,
        unit=unit,
    )
    return Chart(
        title=title,
        alt=describe(title, points, target=target, unit=unit, polarity=polarity, decimals=decimals),
        data=data,
    )


def describe(
    title: str,
    points: Sequence[tuple[str, Decimal | None]],
    *,
    target: Sequence[Decimal | None] | None = None,
    unit: str = "",
    polarity: Polarity | None = None,
    decimals: int | None = None,
) -> str:
    """The alt text: what the chart says, in one or two sentences."""
    known = [(i, label, v) for i, (label, v) in enumerate(points) if v is not None]
    span = f"{points[0][0]} to {points[-1][0]}" if points else "no periods"
    if not known:
        return f"Chart of {title}, {span}: no values yet."
    i, label, latest = known[-1]
    shown = format_figure(latest, unit, decimals)
    text = f"Chart of {title}, {span}. Latest value {shown} for {label}"
    if label != points[-1][0]:
        text += f" (no value yet for {points[-1][0]})"
    goal = target[i] if target is not None else None
    text += (
        f", against a target of {format_figure(goal, unit)}" if goal is not None else ", no target"
    )
    if len(known) >= 2:
        _, before_label, before = known[-2]
        way = _movement(latest, before, polarity)
        text += f"; {way} {format_figure(before, unit, decimals)} in {before_label}"
    else:
        text += "; no earlier value to compare with"
    return text + "."


def _movement(latest: Decimal, before: Decimal, polarity: Polarity | None) -> str:
    if latest == before:
        return "unchanged from"
    rose = latest > before
    if polarity is None or Polarity(polarity) is Polarity.NEUTRAL:
        return "up from" if rose else "down from"
    better = rose == (Polarity(polarity) is Polarity.HIGHER)
    way = "up" if rose else "down"
    return f"{'improving' if better else 'worsening'} ({way}) from"


def draw(data: ChartData) -> bytes:
    """The chart's PNG: the same bytes for the same data, in any process.

    Top-level and free of state kept between calls (a fresh figure each time), so a pool
    worker and the calling process draw identical pictures. The plot area has fixed
    margins (:data:`MARGINS`) instead of ``tight_layout``: that measured every label by
    drawing the figure once more before saving it, which was about half the cost of a
    chart, and it moved the axes by a pixel or two from one chart to the next, so charts
    side by side on a page did not line up.
    """
    # matplotlib takes longer to import than most commands take to run: only when drawing.
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, values, targets = list(data.labels), list(data.values), data.targets
    rotated = len(labels) > 6
    with rc_context(_RC):
        figure = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        margins = MARGINS_ROTATED if rotated else MARGINS
        figure.subplots_adjust(**margins)
        axes = figure.add_subplot()
        xs = list(range(len(labels)))
        if targets is not None and any(not math.isnan(t) for t in targets):
            # A target holds for its whole period: a step, not a slope between periods.
            axes.plot(
                xs,
                list(targets),
                linestyle="--",
                linewidth=1.5,
                color=TARGET_COLOUR,
                label="Target",
                drawstyle="steps-mid",
            )
        axes.plot(
            xs, values, marker="o", linewidth=2, markersize=5, color=VALUE_COLOUR, label="Value"
        )
        axes.set_xticks(xs, labels, rotation=45 if rotated else 0, ha="center")
        if data.unit.strip():
            axes.set_ylabel(data.unit)
        # The unit at the figure's left edge, not placed beside the widest tick label
        # (another measuring pass); the left margin leaves it room.
        axes.yaxis.set_label_coords(UNIT_X, 0.5, transform=figure.transFigure)
        axes.xaxis.set_label_coords(0.5, 0.0, transform=figure.transFigure)
        axes.margins(x=0.05, y=0.15)
        # A fixed place (y=1) rather than matplotlib's search for one clear of everything
        # drawn at the top, which measured every tick label and cost a fifth of a chart.
        pad = TITLE_PAD
        if _has_factor(axes):
            figure.subplots_adjust(**{**margins, "top": TOP_WITH_FACTOR})
            pad = TITLE_PAD_WITH_FACTOR
        axes.set_title(data.title, loc="left", y=1.0, pad=pad)
        axes.grid(axis="y", color=GRID_COLOUR, linewidth=0.8)
        axes.spines[["top", "right"]].set_visible(False)
        if all(math.isnan(v) for v in values):
            axes.text(0.5, 0.5, "No values yet", transform=axes.transAxes, ha="center")
        axes.legend(loc="best", frameon=False)
        out = io.BytesIO()
        figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _has_factor(axes: Axes) -> bool:
    """Whether the y axis will write a common factor or offset ("1e6") above its labels.

    Asked of the tick formatter, as it will be at drawing time, without drawing.
    """
    formatter = axes.yaxis.get_major_formatter()
    formatter.set_locs(list(axes.yaxis.get_majorticklocs()))
    return bool(formatter.get_offset())


@functools.cache
def _drawing_versions() -> list[str]:
    """What else decides a chart's bytes: our style, matplotlib (and its bundled fonts),
    Pillow, which writes the PNG, and the zlib that compresses it. Read from the installed
    packages' metadata, so keying a chart does not import matplotlib."""
    from importlib.metadata import version

    return [
        f"style {STYLE_VERSION}",
        f"matplotlib {version('matplotlib')}",
        f"pillow {version('pillow')}",
        f"zlib {zlib.ZLIB_RUNTIME_VERSION}",
    ]


def palette_png(png: bytes, colours: int = EMAIL_COLOURS) -> bytes:
    """``png`` as an 8-bit palette PNG of at most ``colours`` colours, without dithering.

    Deterministic (median cut, no random seed), and with no text chunks, like the original.
    """
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")  # the figure is opaque: alpha is 255 everywhere
    paletted = rgb.quantize(
        colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    paletted.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _as_float(value: Decimal | None) -> float:
    return math.nan if value is None else float(value)
