"""``mailcapture publish``: the report as a static site plus its PDF, in one folder.

The folder is self-contained (relative links only, one CSS file, the charts as PNG files
beside the pages), so it can be copied as it is to an intranet or a website.

Decisions worth knowing:

* **The site is the whole register, the PDF is the report.** Every live indicator and
  project gets a page (people follow links to what interests them), while the PDF holds
  what the register puts in the quarterly (or annual) report, with key projects only.
* **A flat folder.** ``index.html``, ``department-<code>.html``,
  ``indicator-<code>.html`` (+ ``.png``), ``project-<code>.html``: no sub-folders means no
  ``../`` in links and nothing to get wrong when the folder is moved. Codes become file
  names through :func:`.formatting.slug`; two codes that would collide get a suffix.
* **Deterministic.** The same database and clock give the same bytes: everything is
  sorted, the only time printed is "data as at" from the caller's clock, and the charts
  and the PDF carry no creation timestamps. A re-publish that changes nothing changes no
  file, which keeps a website's deploy (rsync, git) quiet.
* **Charts are drawn once.** Before the pages, :func:`.charts.draw_charts` reads back every
  chart whose data and style it drew before and draws the rest in a process pool
  (``MAILCAPTURE_CHART_CACHE``, ``MAILCAPTURE_CHART_WORKERS``): a re-publish with nothing
  changed draws nothing and writes the same bytes.
* **Files we did not write are left alone**; ours are overwritten in place.
* **Who has returned what** (``returns.html``): each person's items for the period and
  the periods inside it, with their status and the reminders and escalations sent, from
  :mod:`mailcapture.reports.returns_view` (the same lines as ``mailcapture returns``).
  Names, not addresses: the folder may go on a public website.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mailcapture.domain.periods import Period, PeriodKind, periods_within
from mailcapture.errors import UserError
from mailcapture.progress import NO_PROGRESS, Progress
from mailcapture.publish import formatting as fmt
from mailcapture.publish.charts import ChartOptions, draw_charts
from mailcapture.publish.templating import SITE_TEMPLATES, environment
from mailcapture.reports.content import PerformanceReport, performance_report, report_part
from mailcapture.reports.returns_view import ReturnsByPerson, returns_by_person


class PublishError(UserError):
    """Publishing cannot go ahead; the message is one line fit for the command line."""


@dataclass(frozen=True)
class Published:
    out: Path
    #: Every file written, relative to ``out``, sorted.
    files: list[str]
    pdf: str


def pdf_name(period: Period) -> str:
    """``quarterly-report-2026-27-q1.pdf`` or ``annual-report-2026-27.pdf``."""
    kind = "annual" if period.kind is PeriodKind.YEAR else "quarterly"
    return f"{kind}-report-{fmt.slug(period.code)}.pdf"


def publish(
    session: Session,
    period: Period,
    now: datetime,
    out: Path,
    progress: Progress = NO_PROGRESS,
    charts: ChartOptions | None = None,
) -> Published:
    """Compute the report for ``period`` (a quarter or a year) and write site and PDF.

    ``charts``: the chart cache and drawing processes; by default from the environment.
    """
    from mailcapture.publish.pdf import render_pdf  # WeasyPrint loads Pango: only when used

    if period.kind is PeriodKind.MONTH:
        raise PublishError(
            f"publish needs a quarter or a financial year, not a month ({period.code})"
        )
    _writable(out)  # before the work, so a wrong --out fails at once
    annual = period.kind is PeriodKind.YEAR
    site = performance_report(
        session, period, now, annual=annual, everything=True, progress=progress
    )
    report = report_part(site)
    # The report's charts are the site's (the same objects): drawing these draws all.
    draw_charts((e.chart for e in site.indicators), charts, progress)
    # The months' requests as well as the quarter's: what "returns for Q1" means.
    returns = returns_by_person(session, periods_within(period), now)
    progress.start("pages", None)
    files = site_files(site, pdf_name(period), returns)
    progress.start("the PDF", 1)
    files[pdf_name(period)] = render_pdf(report)
    progress.advance()
    _write(out, files)
    return Published(out, sorted(files), pdf_name(period))


def site_files(
    report: PerformanceReport, pdf: str, returns: ReturnsByPerson | None = None
) -> dict[str, bytes]:
    """Every page, chart and the style sheet, by file name.

    ``returns``: who has returned what, written as ``returns.html`` (and linked from every
    page); without it there is no such page and no link to one.
    """
    links = Links(report)
    env = environment()
    common: dict[str, Any] = {
        "report": report,
        "links": links,
        "pdf": pdf,
        "as_at": fmt.local_time(report.as_at),
        "period_label": report.period.label,
        "returns": returns,
    }
    files: dict[str, bytes] = {"style.css": (SITE_TEMPLATES / "style.css").read_bytes()}

    def page(name: str, template: str, **extra: Any) -> None:
        html = env.get_template(template).render(**common, **extra)
        files[name] = html.encode("utf-8")

    page("index.html", "index.html")
    if returns is not None:
        page(RETURNS_PAGE, "returns.html")
    for dept in report.departments:
        page(links.department(dept.code), "department.html", dept=dept)
        for entry in dept.indicators:
            name = links.indicator(entry.code)
            files[links.chart(entry.code)] = entry.chart.png
            page(name, "indicator.html", dept=dept, entry=entry)
        for project in dept.projects:
            page(links.project(project.code), "project.html", dept=dept, project=project)
    return files


#: Who has returned what. No register code can give this name: theirs all have a prefix.
RETURNS_PAGE = "returns.html"


class Links:
    """File names of every page, unique even when two codes slug alike."""

    def __init__(self, report: PerformanceReport) -> None:
        self._names: dict[tuple[str, str], str] = {}
        taken: set[str] = {"index", "style", "returns"}
        kinds = [("department", d.code) for d in report.departments]
        kinds += [("indicator", e.code) for e in report.indicators]
        kinds += [("project", p.code) for p in report.projects]
        for kind, code in kinds:
            base = f"{kind}-{fmt.slug(code)}"
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}-{n}"
            taken.add(name)
            self._names[(kind, code)] = name

    def department(self, code: str) -> str:
        return self._names[("department", code)] + ".html"

    def indicator(self, code: str) -> str:
        return self._names[("indicator", code)] + ".html"

    def chart(self, code: str) -> str:
        return self._names[("indicator", code)] + ".png"

    def project(self, code: str) -> str:
        return self._names[("project", code)] + ".html"


def _writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PublishError(f"cannot write to {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PublishError(f"cannot write to {out}: Permission denied")


def _write(out: Path, files: dict[str, bytes]) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(files.items()):
            path = out / name
            if path.exists() and path.read_bytes() == data:
                continue
            path.write_bytes(data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PublishError(f"cannot write to {out}: {reason}") from None
