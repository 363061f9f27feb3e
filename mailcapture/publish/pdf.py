"""The quarterly (or annual) report as a PDF, with WeasyPrint.

WeasyPrint lays out HTML and CSS for print (page numbers from CSS ``@page`` counters,
table headers repeated on each page), so the PDF is written from a template like the
site and shares its wording. The charts go in as ``data:`` URIs: the PDF needs no files
on disk and no network. WeasyPrint needs Pango at run time (Debian ``libpango-1.0-0``,
``libpangoft2-1.0-0``), which is why this module is imported only when publishing.
"""

from __future__ import annotations

import base64

from mailcapture.publish import formatting as fmt
from mailcapture.publish.templating import SITE_TEMPLATES, environment
from mailcapture.reports.content import PerformanceReport


def report_html(report: PerformanceReport) -> str:
    """The PDF's HTML: the report with the charts inline."""
    charts = {
        e.code: "data:image/png;base64," + base64.b64encode(e.chart.png).decode("ascii")
        for e in report.indicators
    }
    return (
        environment()
        .get_template("report.html")
        .render(
            report=report,
            charts=charts,
            as_at=fmt.local_time(report.as_at),
            period_label=report.period.label,
        )
    )


def render_pdf(report: PerformanceReport) -> bytes:
    from weasyprint import HTML

    document = HTML(string=report_html(report), base_url=str(SITE_TEMPLATES))
    # Tagged PDF: headings, tables and alt text reach screen readers, as on the site.
    return document.write_pdf(pdf_tags=True)
