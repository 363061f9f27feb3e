"""History charts for reports: a PNG and a sentence saying what it shows.

Used by the report emails (inline images referenced by Content-ID) and by the published
site and PDF, so one indicator's chart looks the same wherever it appears.

Decisions worth knowing:

* **matplotlib's object API on the Agg canvas**, never ``pyplot``: pyplot keeps global
  figure state and picks a GUI backend, neither of which a service sending mail from
  several threads wants.
* **Deterministic bytes.** A fixed size and dpi, matplotlib's bundled DejaVu font, a fixed
  ``rcParams`` set and PNG metadata without the "Software" stamp, so the same figures give
  the same file (published sites can be compared, emails deduplicated by content).
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
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from mailcapture.domain.enums import Polarity
from mailcapture.domain.figures import format_figure

if TYPE_CHECKING:  # matplotlib is imported only when drawing
    from matplotlib.typing import RcKeyType

#: Inches and dots per inch: 640 x 300 pixels, readable in an email and on a page.
SIZE = (6.4, 3.0)
DPI = 100

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
class Chart:
    """A rendered chart: PNG bytes and the sentence that stands in for it."""

    title: str
    png: bytes
    alt: str

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
    ``decimals`` writes its figures as the report does (97.0%, not 97%).
    """
    if target is not None and len(target) != len(points):
        raise ValueError(f"{len(target)} targets for {len(points)} points")
    labels = [label for label, _ in points]
    values = [_as_float(v) for _, v in points]
    targets = [_as_float(t) for t in target] if target is not None else None
    return Chart(
        title=title,
        png=_render(title, labels, values, targets, unit),
        alt=describe(title, points, target=target, unit=unit, polarity=polarity, decimals=decimals),
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


def _render(
    title: str,
    labels: list[str],
    values: list[float],
    targets: list[float] | None,
    unit: str,
) -> bytes:
    # matplotlib takes longer to import than most commands take to run: only when drawing.
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(_RC):
        figure = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        xs = list(range(len(labels)))
        if targets is not None and any(not math.isnan(t) for t in targets):
            # A target holds for its whole period: a step, not a slope between periods.
            axes.plot(
                xs,
                targets,
                linestyle="--",
                linewidth=1.5,
                color=TARGET_COLOUR,
                label="Target",
                drawstyle="steps-mid",
            )
        axes.plot(
            xs, values, marker="o", linewidth=2, markersize=5, color=VALUE_COLOUR, label="Value"
        )
        axes.set_title(title, loc="left")
        axes.set_xticks(xs, labels, rotation=0 if len(labels) <= 6 else 45, ha="center")
        if unit.strip():
            axes.set_ylabel(unit)
        axes.margins(x=0.05, y=0.15)
        axes.grid(axis="y", color=GRID_COLOUR, linewidth=0.8)
        axes.spines[["top", "right"]].set_visible(False)
        if all(math.isnan(v) for v in values):
            axes.text(0.5, 0.5, "No values yet", transform=axes.transAxes, ha="center")
        axes.legend(loc="best", frameon=False)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


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
