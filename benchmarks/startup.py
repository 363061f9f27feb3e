"""How long the ``mailcapture`` command takes before it does anything, beside a bare Python.

Every invocation pays for ``import mailcapture.cli.main``; ``--help``, ``--version`` and
``status`` are what a person types and waits for. Each is timed as a whole process (wall
clock, median of ``--repeats`` runs) next to ``python -c pass`` measured in the same run, and
the import is also measured with ``-X importtime`` (the cumulative microseconds of the CLI
module, which leaves out the interpreter's own start).

``--other VENV`` measures a second installation the same way, in the same run (for example
a virtual environment with the previous release installed from a checkout of it), so that
before and after are compared on the same machine under the same load::

    .venv/bin/python -m benchmarks.startup
    .venv/bin/python -m benchmarks.startup --other /tmp/base/.venv --repeats 15

Goals (issue 11): the CLI import under 0.3 s of cumulative import time; ``--help`` and
``status`` under 0.5 s of wall time on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._common import log

SAMPLE = Path(__file__).resolve().parent.parent / "mailcapture" / "register" / "sample"
_IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| mailcapture\.cli\.main$")


@dataclass(frozen=True)
class Installation:
    label: str
    venv: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def command(self) -> str:
        return str(self.venv / "bin" / "mailcapture")


def wall(argv: list[str], env: dict[str, str], repeats: int, cwd: Path) -> float | None:
    """Median wall seconds of ``argv`` run ``repeats`` times; None if it fails."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            return None
    return statistics.median(times)


def import_time(python: str, env: dict[str, str], repeats: int, cwd: Path) -> float:
    """Median cumulative import time of ``mailcapture.cli.main``, in seconds."""
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [python, "-X", "importtime", "-c", "import mailcapture.cli.main"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        found = [_IMPORT_LINE.search(line) for line in done.stderr.splitlines()]
        micros = [int(m.group(1)) for m in found if m]
        samples.append(micros[-1] / 1e6)
    return statistics.median(samples)


def prepared_database(install: Installation, folder: Path, env: dict[str, str]) -> dict[str, str]:
    """A SQLite database with the sample register loaded, for ``status`` to read."""
    env = {**env, "MAILCAPTURE_DATABASE_URL": f"sqlite:///{folder / 'mailcapture.db'}"}
    for args in (["init"], ["load", str(SAMPLE)]):
        subprocess.run(
            [install.command, *args], env=env, cwd=folder, capture_output=True, check=True
        )
    return env


def measure(install: Installation, repeats: int) -> dict[str, float | None]:
    """Every measure for one installation, run from an empty folder (not a checkout, whose
    ``mailcapture/`` would be imported instead of the installed package)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        status_env = prepared_database(install, here, env)
        log(f"{install.label}: timing")
        # One untimed run of each, so .pyc files are written before the clock starts.
        for argv in ([install.command, "--help"], [install.command, "status"]):
            subprocess.run(argv, env=status_env, cwd=here, capture_output=True, check=False)
        python = install.python
        return {
            "python -c pass": wall([python, "-c", "pass"], env, repeats, here),
            "import mailcapture.cli.main (wall)": wall(
                [python, "-c", "import mailcapture.cli.main"], env, repeats, here
            ),
            "import mailcapture.cli.main (-X importtime)": import_time(python, env, repeats, here),
            "mailcapture --help": wall([install.command, "--help"], env, repeats, here),
            "mailcapture --version": wall([install.command, "--version"], env, repeats, here),
            "mailcapture status": wall([install.command, "status"], status_env, repeats, here),
        }


def report(results: dict[str, dict[str, float | None]]) -> None:
    labels = list(results)
    first = results[labels[0]]
    header = "| measure | " + " | ".join(f"{label} s | x python" for label in labels) + " |"
    print(header)
    print("| --- |" + " ---: | ---: |" * len(labels))
    for measure_name in first:
        cells = []
        for label in labels:
            value = results[label][measure_name]
            bare = results[label]["python -c pass"]
            if value is None:
                cells.append("fails | ")
            else:
                plain = measure_name == "python -c pass" or not bare
                ratio = "" if plain else f"{value / bare:.1f}"
                cells.append(f"{value:.3f} | {ratio}")
        print(f"| {measure_name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="runs per measure (median)")
    parser.add_argument("--other", type=Path, help="a second virtual environment to compare")
    parser.add_argument("--other-label", default="other", help="its label in the table")
    args = parser.parse_args()
    installs = [Installation("this", Path(sys.prefix))]
    if args.other is not None:
        installs.append(Installation(args.other_label, args.other))
    load = os.getloadavg()[0]
    results = {install.label: measure(install, args.repeats) for install in installs}
    print(
        f"startup, median of {args.repeats} runs, load average {load:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} CPUs"
    )
    report(results)


if __name__ == "__main__":
    main()
