"""Read register YAML files keeping line numbers, and report problems as ``file:line: reason``.

ruamel.yaml's round-trip loader records where every key and list item came from, which
is what lets a broken register be explained line by line instead of "invalid config".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from mailcapture.errors import UserError

Key = str | int


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class RegisterInvalid(UserError):
    """The register has problems; nothing was loaded."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems)
        first = self.problems[0] if self.problems else "no problems"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}")


@dataclass(frozen=True)
class Where:
    """A node in a YAML file: answers "which line is this (or this key of it) on?"."""

    file: str
    node: Any
    line: int

    def at(self, *path: Key) -> Where:
        """The location of a child node; falls back to the nearest known parent line."""
        node, line = self.node, self.line
        for key in path:
            child_line = _child_line(node, key)
            if child_line is None:
                break
            line = child_line
            node = node[key]
        return Where(self.file, node, line)

    def problem(self, reason: str, *path: Key) -> Problem:
        return Problem(self.file, self.at(*path).line, reason)


def _child_line(node: Any, key: Key) -> int | None:
    try:
        if isinstance(node, CommentedMap) and key in node:
            return node.lc.key(key)[0] + 1
        if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            return node.lc.item(key)[0] + 1
    except (KeyError, IndexError, TypeError):
        return None
    return None


@dataclass
class Document:
    """One parsed YAML file: its top-level mapping of section name to content."""

    path: Path
    name: str
    root: CommentedMap
    where: Where = field(init=False)

    def __post_init__(self) -> None:
        self.where = Where(self.name, self.root, 1)


def read_documents(folder: Path) -> tuple[list[Document], list[Problem]]:
    """Parse every ``*.yaml`` file in ``folder``; syntax errors become problems."""
    documents: list[Document] = []
    problems: list[Problem] = []
    if not folder.is_dir():
        return [], [Problem(str(folder), 0, "not a folder")]
    files = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    if not files:
        problems.append(Problem(str(folder), 0, "no .yaml files in the register folder"))
    for path in files:
        name = str(path)
        try:
            root = _yaml().load(path.read_bytes())
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 0
            problems.append(Problem(name, line, f"YAML syntax: {_yaml_reason(exc)}"))
            continue
        except (YAMLError, UnicodeDecodeError) as exc:
            problems.append(Problem(name, 0, f"cannot read YAML: {exc}".splitlines()[0]))
            continue
        if root is None:
            continue
        if not isinstance(root, CommentedMap):
            problems.append(Problem(name, 1, "the file must be a mapping of section names"))
            continue
        documents.append(Document(path, name, root))
    return documents, problems


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _yaml_reason(exc: MarkedYAMLError) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    return "; ".join(" ".join(str(p).split()) for p in parts) or "invalid YAML"


def iter_items(section: Any, where: Where) -> Iterator[tuple[Any, Where]]:
    """Items of a list section with their locations (a non-list yields nothing)."""
    if isinstance(section, list):
        for index, item in enumerate(section):
            yield item, where.at(index)


def first_line(wheres: Iterable[Where]) -> int:
    return min((w.line for w in wheres), default=0)
