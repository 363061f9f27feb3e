"""``mailcapture export returns``: the LG Inform and Single Data List returns for a year.

The tables are made by :mod:`mailcapture.reports.government_returns`; this module reads
``--period`` as every command does (:mod:`.periods`), writes the CSV (to ``--out FILE`` or
standard output, as the other exports do) and lists on standard error the indicators that
have no value for the year yet, so a gap in a return is never silent.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mailcapture.cli.periods import period_argument
from mailcapture.errors import UserError
from mailcapture.reports import export
from mailcapture.reports.government_returns import lginform_return, require_year, sdl_return
from mailcapture.runtime import Runtime

FORMATS = {"lginform": lginform_return, "sdl": sdl_return}


def export_returns(period: str, fmt: str, out: Path | None) -> None:
    """Write the year's return as CSV; note the indicators without a value on stderr."""
    build = FORMATS.get(fmt)
    if build is None:
        raise UserError(f"returns can be exported as {' or '.join(FORMATS)}, not {fmt!r}")
    year = require_year(period_argument(period, "--period"))
    runtime = Runtime.from_environment()
    try:
        runtime.require_schema()
        with runtime.sessions() as session:
            returns = build(session, year)
    finally:
        runtime.close()
    text = export.to_csv(returns.table)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{len(returns.table.rows)} row(s) written to {out}")
    for code, reason in returns.gaps:
        print(f"mailcapture: no value for {code} in {year.code}: {reason}", file=sys.stderr)
