"""The Jinja settings every template of the package is rendered with.

Emails (:mod:`mailcapture.compose.render`) and the published site and PDF
(:mod:`mailcapture.publish.templating`) each have an environment of their own, with their own
folder, filters and globals, but the same rules, kept here so that they cannot drift apart:

* ``.html`` templates autoescape: names and titles come from a register anyone may have
  typed ``<script>`` into.
* ``StrictUndefined``: a misspelt field is an error in tests, not a blank in 300 emails.
* ``trim_blocks`` / ``lstrip_blocks``: tags leave no stray blank lines or indentation, so a
  text template lays out exactly what is sent.
* Templates are compiled once per process and kept (``auto_reload=False``).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = ["strict_environment"]


def strict_environment(folder: Path, *, escape_strings: bool) -> Environment:
    """A Jinja environment over ``folder`` with the rules above. ``escape_strings`` says
    whether a template given as a string (not a file) autoescapes: the site renders HTML
    snippets that way, the emails' text parts must not be escaped."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=escape_strings
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
