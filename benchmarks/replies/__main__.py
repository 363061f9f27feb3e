"""Benchmark (issue 13): how often each reply parser finds exactly the sender's new text.

Run from the checkout, in a virtualenv that has the other parsers (the optional ``bench``
extra: ``pip install -e '.[bench]'``, or a scratch venv with them; ``mailcapture``'s parser
needs only the standard library, HTML samples need ``inscriptis``)::

    python -m benchmarks.replies                  # every parser that is installed
    python -m benchmarks.replies --misses         # and the samples each one got wrong
    python -m benchmarks.replies --repeat 20 --parsers mailcapture,quotequail

The labelled set is ``labels.json`` beside this file: each sample's file and the new text a
person would say its sender wrote (the convention of ``tests/parsing/test_quotes.py``: no
attribution, quoted history, mobile or ``--`` signature, one-name sign-off, list footer,
banner or disclaimer; a closing such as "Best regards, John" stays). Two sets, reported
apart as well as together, because they are not equally fair to us:

* ``corpus``: the reply bodies of ``tests/corpus/replies`` that our rules were written
  against (issue 12 and before), with the labels of ``test_quotes.py``;
* ``collected``: samples collected for this benchmark (issue 13) from other projects' test
  fixtures (``samples/``, sources in ``SOURCES.md``). Some of them guided issue 13's rules.

A parser's answer matches when it equals the label after the same light normalisation of
both: line endings, trailing spaces, runs of blank lines, common indentation, leading and
trailing blank lines. Parsers differ in what they drop (talon keeps signatures; the others
drop some), so "exact match" measures agreement with *our* labels, which are what the form
reader needs. A parser that is not installed is reported as such; one that raises on a
sample scores a miss there, and the error is counted.

Speed is messages per second over the whole set (HTML converted beforehand, outside the
timing), the best of ``--repeat`` passes, in this one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent.parent)

import argparse
import contextlib
import json
import os
import platform
import re
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata

HERE = Path(__file__).resolve().parent
SETS = ("corpus", "collected")


@dataclass(frozen=True)
class Sample:
    name: str
    text: str
    expected: str
    set: str


@dataclass
class Parser:
    name: str
    version: str | None  # None: not installed
    extract: Callable[[str], str] | None
    note: str = ""


@dataclass
class Score:
    parser: Parser
    exact: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    misses: list[str] = field(default_factory=list)
    per_second: float = float("nan")


# ----------------------------------------------------------------------------- the parsers


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _ours() -> Parser:
    from mailcapture.parsing.quotes import split_reply

    return Parser("mailcapture", "checkout", lambda t: split_reply(t).new_text)


def _email_reply_parser() -> Parser:
    from email_reply_parser import EmailReplyParser

    return Parser(
        "email-reply-parser",
        _version("email-reply-parser"),
        lambda t: EmailReplyParser.parse_reply(t) or "",
    )


def _mail_parser_reply() -> Parser:
    from mailparser_reply import EmailReplyParser
    from mailparser_reply.constants import MAIL_LANGUAGES

    # Every language it knows: the samples are in many, and a real service cannot know which.
    parser = EmailReplyParser(languages=list(MAIL_LANGUAGES))
    return Parser(
        "mail-parser-reply",
        _version("mail-parser-reply"),
        lambda t: parser.parse_reply(t) or "",
        note=f"languages: {','.join(sorted(MAIL_LANGUAGES))}",
    )


def _quotequail() -> Parser:
    import quotequail

    def extract(text: str) -> str:
        return "".join(
            part for shown, part in quotequail.quote(text, quote_intro_line=True) if shown
        )

    return Parser("quotequail", _version("quotequail"), extract)


def _talon() -> Parser:
    from talon import quotations  # the signature module needs scikit-learn < 0.23

    return Parser(
        "talon",
        _version("talon"),
        quotations.extract_from_plain,
        note="quotations.extract_from_plain only (talon.signature does not import)",
    )


LOADERS: dict[str, Callable[[], Parser]] = {
    "mailcapture": _ours,
    "email-reply-parser": _email_reply_parser,
    "mail-parser-reply": _mail_parser_reply,
    "quotequail": _quotequail,
    "talon": _talon,
}


def load_parser(name: str) -> Parser:
    """The parser, or a stand-in saying why it cannot run (never an exception)."""
    try:
        return LOADERS[name]()
    except Exception as exc:  # ImportError, or a library broken on this Python
        return Parser(name, None, None, note=f"not installed ({type(exc).__name__}: {exc})")


# ----------------------------------------------------------------------------- the samples


def load_samples() -> tuple[list[Sample], list[str]]:
    """The labelled samples, HTML ones converted to text; and notes on any left out."""
    labels = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    samples: list[Sample] = []
    notes: list[str] = []
    for entry in labels["samples"]:
        path = (HERE / entry["file"]).resolve()
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            try:
                from inscriptis import get_text
            except ImportError:
                notes.append(f"{path.name}: left out (HTML, inscriptis not installed)")
                continue
            text = get_text(text)
        samples.append(Sample(path.name, text, entry["expected"], entry["set"]))
    return samples, notes


_BLANK_RUNS = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """What "exact" forgives: line endings, trailing spaces, blank runs, indentation."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return textwrap.dedent(_BLANK_RUNS.sub("\n\n", text)).strip()


# ----------------------------------------------------------------------------- the run


def score(parser: Parser, samples: list[Sample], repeat: int) -> Score:
    result = Score(parser, exact=dict.fromkeys(SETS, 0), total=dict.fromkeys(SETS, 0))
    assert parser.extract is not None
    for sample in samples:
        result.total[sample.set] += 1
        try:
            got = parser.extract(sample.text)
        except Exception as exc:
            result.errors += 1
            result.misses.append(f"{sample.name}: raised {type(exc).__name__}")
            continue
        if normalise(got) == normalise(sample.expected):
            result.exact[sample.set] += 1
        else:
            result.misses.append(sample.name)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for sample in samples:
            with contextlib.suppress(Exception):  # counted as errors above
                parser.extract(sample.text)
        best = min(best, time.perf_counter() - start)
    result.per_second = len(samples) / best if best > 0 else float("nan")
    return result


def _share(exact: int, total: int) -> str:
    return f"{exact}/{total} ({100 * exact / total:.0f} %)" if total else "-"


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--parsers", default=",".join(LOADERS), help="comma-separated names")
    args.add_argument("--repeat", type=int, default=5, help="timed passes (the best counts)")
    args.add_argument("--misses", action="store_true", help="list each parser's misses")
    opts = args.parse_args(argv)

    samples, notes = load_samples()
    counts = {s: sum(1 for x in samples if x.set == s) for s in SETS}
    print(
        f"# reply parsers compared: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"# {len(samples)} labelled samples (corpus {counts['corpus']}, "
        f"collected {counts['collected']}), best of {opts.repeat} timed passes"
    )
    for note in notes:
        print(f"# {note}")
    print()
    print("| parser | version | exact, all | corpus | collected | errors | messages/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    scores: list[Score] = []
    for name in opts.parsers.split(","):
        parser = load_parser(name.strip())
        if parser.extract is None:
            print(f"| {parser.name} | - | {parser.note} | | | | |")
            continue
        result = score(parser, samples, opts.repeat)
        scores.append(result)
        exact_all = sum(result.exact.values())
        print(
            f"| {parser.name} | {parser.version} | {_share(exact_all, len(samples))} | "
            f"{_share(result.exact['corpus'], result.total['corpus'])} | "
            f"{_share(result.exact['collected'], result.total['collected'])} | "
            f"{result.errors} | {result.per_second:,.0f} |"
        )
    for result in scores:
        if result.parser.note:
            print(f"\n- {result.parser.name}: {result.parser.note}")
    if opts.misses:
        for result in scores:
            print(f"\n## {result.parser.name} missed {len(result.misses)}")
            for miss in result.misses:
                print(f"- {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
