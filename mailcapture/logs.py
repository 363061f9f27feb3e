"""Structured logs: one JSON object per line, an event name and its fields.

Every layer logs through the standard ``logging`` module with :func:`event`; ``serve``
installs :class:`JsonFormatter` so a log collector can read each line on its own.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, name, extra={"fields": fields})


def event_fields(
    logger: logging.Logger, name: str, fields: Mapping[str, object], level: int = logging.INFO
) -> None:
    """:func:`event` for fields already in a mapping: every key stays a field, so one
    called ``level`` or ``name`` cannot take the place of an argument."""
    logger.log(level, name, extra={"fields": dict(fields)})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        data.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("mailcapture")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
