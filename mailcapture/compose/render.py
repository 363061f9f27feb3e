"""Render a view model into an email's subject, plain text and HTML.

Each kind of email is a pair of templates in ``templates/emails/``: ``<kind>.txt`` and
``<kind>.html``, extending the shared ``_layout.txt`` / ``_layout.html``. The subject lives
in the text template as ``{% block subject %}`` so that wording changes to an email are made
in one place, by editing templates; a new kind (confirmation, report) needs no code here.

Jinja settings, and why: :mod:`mailcapture.templating` (shared with the site). ``.html``
templates autoescape, ``.txt`` do not: the text part must show a register's names and
titles as written.

Rendered text and HTML use ``\\n`` line ends and end with exactly one; turning them into
CRLF for the wire is :mod:`mailcapture.compose.message`'s job.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, TemplateNotFound

from mailcapture.compose.form import context_lines, form_groups, form_line, form_lines
from mailcapture.compose.textfmt import PROSE_WIDTH, count_of, hang, one_line, reflow, truncate
from mailcapture.compose.views import (
    DeferredRequestView,
    EscalationView,
    FailureView,
    OwnerCommentaryReminderView,
    ReminderView,
    RequestView,
    SummaryView,
    ValueChoiceConfirmationView,
    ValueChoiceView,
)
from mailcapture.resources import package_dir
from mailcapture.templating import strict_environment

__all__ = ["TEMPLATE_DIR", "Rendered", "UnknownKindError", "environment", "kinds", "render"]

TEMPLATE_DIR: Path = package_dir("templates", "emails")

_KIND = re.compile(r"[a-z][a-z0-9_]*")

#: The view each known kind expects; kinds added later as templates only are not checked.
_VIEW_TYPES: dict[str, type] = {
    "request": RequestView,
    "reminder": ReminderView,
    "deferred_request": DeferredRequestView,
    "escalation_owner": EscalationView,
    "escalation_head": EscalationView,
    "returns_summary": SummaryView,
    "outbox_failure": FailureView,
    "owner_commentary_reminder": OwnerCommentaryReminderView,
    "value_choice": ValueChoiceView,
    "value_choice_reminder": ValueChoiceView,
    "value_choice_confirmation": ValueChoiceConfirmationView,
}


@dataclass(frozen=True)
class Rendered:
    """One email's words: a one-line subject, the plain-text part and the HTML part."""

    subject: str
    text: str
    html: str


class UnknownKindError(LookupError):
    """No template pair for this kind of email; the message lists the kinds there are."""


@functools.cache
def environment() -> Environment:
    """The one Jinja environment; templates are compiled once per process and kept."""
    env = strict_environment(TEMPLATE_DIR, escape_strings=False)
    env.globals.update(
        form_lines=form_lines,
        form_groups=form_groups,
        form_line=form_line,
        context_lines=context_lines,
    )
    env.filters.update(
        reflow=_reflow, fit=truncate, count_of=count_of, one_line=one_line, hang=hang
    )
    return env


@functools.lru_cache(maxsize=1024, typed=True)
def _reflow_text(text: str, width: int) -> str:
    return reflow(text, width)


def _reflow(text: str, width: int = PROSE_WIDTH) -> str:
    """:func:`reflow`, remembered: the same prose (every email's footer) recurs thousands
    of times in one tick, and wrapping it is a good part of rendering a request."""
    return _reflow_text(text, width)


def kinds() -> list[str]:
    """Every kind with both templates present (names starting with ``_`` are partials)."""
    names = set(environment().list_templates())
    return sorted(
        name.removesuffix(".txt")
        for name in names
        if name.endswith(".txt")
        and not name.startswith("_")
        and name.removesuffix(".txt") + ".html" in names
    )


def render(kind: str, view: object) -> Rendered:
    """Render ``kind`` (e.g. ``"request"``) for ``view``; the template context is ``view``.

    Raises :class:`UnknownKindError` for a kind without templates, TypeError when a known
    kind gets the wrong view, and ValueError when the subject renders empty.
    """
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise UnknownKindError(_unknown(kind))
    expected = _VIEW_TYPES.get(kind)
    if expected is not None and not isinstance(view, expected):
        raise TypeError(
            f"email kind {kind!r} needs a {expected.__name__}, not {type(view).__name__}"
        )
    env = environment()
    try:
        text_template = env.get_template(f"{kind}.txt")
        html_template = env.get_template(f"{kind}.html")
    except TemplateNotFound:
        raise UnknownKindError(_unknown(kind)) from None
    subject_block = text_template.blocks.get("subject")
    if subject_block is None:
        raise ValueError(f"template {kind}.txt has no {{% block subject %}}")
    context = text_template.new_context({"view": view})
    subject = one_line("".join(subject_block(context)))
    if not subject:
        raise ValueError(f"email kind {kind!r} rendered an empty subject")
    text = _normalise(text_template.render(view=view))
    # The HTML also gets the subject, for its <title>.
    html = _normalise(html_template.render(view=view, subject=subject))
    return Rendered(subject=subject, text=text, html=html)


def _normalise(body: str) -> str:
    """``\\n`` line ends only, and exactly one at the end."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return body.rstrip("\n") + "\n"


def _unknown(kind: object) -> str:
    return f"unknown email kind {kind!r}: known kinds are {', '.join(kinds())}"
