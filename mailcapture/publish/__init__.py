"""Publishing: the performance report as a static website and a PDF.

:mod:`.site` writes the pages (jinja2 templates in ``templates/site/``, autoescaped) and
the chart images, :mod:`.pdf` the quarterly or annual report as a PDF with WeasyPrint;
both render through the one Jinja environment in :mod:`.templating`, and both render
:func:`mailcapture.reports.content.performance_report`, the same content the report email
shows.
"""
