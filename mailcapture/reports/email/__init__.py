"""Report emails: owner, department, exception, quarterly and annual reports.

:mod:`.views` holds what a template shows, :mod:`.build` computes it from the database,
:mod:`.send` renders, builds (with inline charts) and queues it with its ``ReportRun``.
When each report goes out is :mod:`mailcapture.schedule.reports`' business.
"""
