"""Import each named module of the package first thing, each in a child of a clean interpreter.

A script, run by ``tests/test_imports.py`` as ``python tests/import_each.py``: JSON on standard
input (``modules``, the package's modules to import; ``preload``, the libraries to import
beforehand; ``pool``, how many children at once), JSON on standard output (each module with
``null``, or the end of the traceback its import raised).

This interpreter starts fresh and imports the libraries the package imports at module level
(SQLAlchemy, jinja2, typer, ...), never a module of the package; then it forks one child per
module, which imports that module and exits. Each child therefore sees the package exactly as
a fresh interpreter would (none of it loaded), which is what the test is about, without
paying again for the libraries and for compiling the package: started as ``python -c`` children
the same test costs 30-45 s of CPU here, on two cores shared with the rest of the suite,
against about 12 s this way. What it cannot see is a module that leans on a library's
submodule it never imports itself, when another module of the package imports it.

The package is compiled once, into a temporary bytecode cache (``sys.pycache_prefix``), so the
children read bytecode even where ``PYTHONDONTWRITEBYTECODE`` is set, and nothing is written
into the checkout. POSIX only (``os.fork``), like the project.
"""

from __future__ import annotations

import compileall
import contextlib
import importlib
import json
import os
import signal
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A child still importing after this long is killed (SIGALRM) and reported.
TIMEOUT_SECONDS = 120
#: What a child reports of its traceback: the end, which names the failing import. Well
#: under a pipe's buffer, so a child never blocks writing it while the parent waits.
REPORT_BYTES = 8000


def main() -> None:
    # The checkout, not tests/, first on the path: tests/ holds folders named like libraries
    # (db, parsing, ...) that must not shadow anything a module imports.
    sys.path[0] = ROOT
    request = json.load(sys.stdin)
    for library in request["preload"]:
        # One that fails here is imported, and fails, in the child that needs it.
        with contextlib.suppress(Exception):
            importlib.import_module(library)
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] == "mailcapture")
    if loaded:
        raise SystemExit(f"a library loaded the package before the children: {loaded}")
    with tempfile.TemporaryDirectory(prefix="mailcapture-bytecode-") as cache:
        sys.pycache_prefix = cache
        sys.dont_write_bytecode = False
        compileall.compile_dir(os.path.join(ROOT, "mailcapture"), quiet=2)
        results = _import_each(request["modules"], request["pool"])
    sys.stdout.write(json.dumps(results))


def _import_each(names: list[str], pool: int) -> dict[str, str | None]:
    results: dict[str, str | None] = {}
    running: dict[int, tuple[str, int]] = {}

    def reap() -> None:
        pid, status = os.wait()
        name, pipe = running.pop(pid)
        with os.fdopen(pipe, "rb") as report:
            text = report.read().decode("utf-8", "replace")
        code = os.waitstatus_to_exitcode(status)
        if code == -signal.SIGALRM:
            text = f"still importing after {TIMEOUT_SECONDS} s"
        results[name] = None if code == 0 else (text or f"exit {code}")

    for name in names:
        while len(running) >= pool:
            reap()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read)
            os._exit(_import_alone(name, write))
        os.close(write)
        running[pid] = (name, read)
    while running:
        reap()
    return results


def _import_alone(name: str, report: int) -> int:
    """In the child: import ``name``; 0, or 1 with the traceback written to ``report``."""
    signal.alarm(TIMEOUT_SECONDS)
    # What a module prints while importing must not land in the parent's JSON.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        importlib.import_module(name)
    except BaseException as exc:
        # The package's own frames and the error: importlib's frames only repeat the name.
        package = os.path.join(ROOT, "mailcapture", "")
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(package)
        ]
        text = "".join(traceback.format_list(frames) + traceback.format_exception_only(exc))
        os.write(report, text[-REPORT_BYTES:].encode("utf-8", "replace"))
        return 1
    return 0


if __name__ == "__main__":
    main()
