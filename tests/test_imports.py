"""The package's import structure: every module imports on its own, and no import cycles.

README's design: layers, one package each, imports pointing down only. A cycle between two
modules means neither sits below the other. Python lets a cycle through as long as nothing
reads a name before the module defining it has finished running, so a cycle passes or fails
depending on which module happens to be imported first: importing ``publish.pdf`` before
``publish.site`` worked only because ``site`` put its import of ``pdf`` inside a function.
Issue 14 named four such cycles, every one hidden by a late (function-level) import or an
``if TYPE_CHECKING:`` block. So:

* :func:`test_every_module_imports_on_its_own` imports each module first, in an interpreter
  with none of the package loaded (children forked from a fresh one that has loaded only
  the libraries; ``tests/import_each.py`` says why): whatever order the package's modules
  need between themselves shows up as a failure here, not in whichever command happens to
  import them in an unlucky order.
* :func:`test_no_import_cycle` reads the imports with :mod:`ast` (no code runs) and finds
  the cycles among them, naming each import that makes one, file and line;
  :func:`test_no_cycle_even_through_late_imports` does the same with late imports counted.

What counts as an edge of the graph, and why:

* **Module-level imports count**, wherever they sit at module level: under ``try``, ``if``,
  ``with`` or in a class body, since all of these run when the module is imported.
* **Imports under** ``if TYPE_CHECKING:`` **count too.** They never run, but they are
  dependencies all the same: mypy and readers follow them, and a module that needs a type
  from a module above it is as tangled as one that needs a function. They are also the
  usual place to hide a cycle from Python: the pipeline's, in ``mailflow/``, was one
  (``report_replies`` naming ``pipeline._Run``). The cure is to move the type down, not to
  leave it out of the graph.
* **Imports inside a function do not count** for :func:`test_no_import_cycle`. They run when the
  function is called, normally long after both modules have finished initialising, so they
  do not fail half-way through an import; and they are how the command loads heavy libraries only
  when used (``cli/main.py`` imports each command's module inside the command). They hid
  all three of the other cycles issue 14 names, though, so
  :func:`test_no_cycle_even_through_late_imports` holds them to the same rule: a late import
  may put off *when* a module is loaded, never point *up*.
* An import names its module exactly: ``from a.b import c`` is an edge to ``a.b.c`` when
  that is a module, else to ``a.b``. The parent packages that Python imports on the way
  (``a``, ``a.b``) are not edges: a package whose ``__init__`` imports its own submodules
  (``db/models/``) would otherwise be in a cycle with each of them, and that is the normal
  shape of a package, not a tangle. Imports by string (``importlib.import_module``) are not
  seen; the package has none.

Alembic's migration scripts (``db/migrations/``) are left out of both: alembic loads them by
file path, nothing imports them (so they can be in no cycle), and importing ``env.py`` runs
a migration. ``__main__`` is left out of the import test, since importing it runs the
command (the command's own tests run it).
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mailcapture"
#: Children importing at once. Each is CPU-bound for a fraction of a second; the suite runs
#: on two cores beside other xdist workers, where more than two buys nothing.
POOL = 2


# --------------------------------------------------------------------------- the modules


def package_modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` by dotted name, migrations left out (see the docstring)."""
    modules: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent).with_suffix("")
        if "migrations" in relative.parts:
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        modules[".".join(parts)] = path
    return modules


# --------------------------------------------------------------------------- the graph


class Kind(StrEnum):
    """Where an import statement sits, which decides whether it runs at import time."""

    TOP = "module level"
    TYPE_CHECKING = "if TYPE_CHECKING"
    LATE = "inside a function"


@dataclass(frozen=True)
class Edge:
    """One import statement from one of the package's modules to another."""

    source: str
    target: str
    path: Path
    line: int
    kind: Kind
    statement: str

    def describe(self, root: Path) -> str:
        where = self.path.relative_to(root) if self.path.is_relative_to(root) else self.path
        return f"{where}:{self.line}: {self.statement}  ({self.kind})"


def import_edges(modules: dict[str, Path]) -> list[Edge]:
    """Every import between ``modules``, read with :mod:`ast`, each with where it sits."""
    edges: list[Edge] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _imports(tree.body, Kind.TOP):
            for target in _targets(node, here, modules):
                if target != name:
                    statement = ast.unparse(node)
                    edges.append(Edge(name, target, path, node.lineno, kind, statement))
    return edges


def _imports(
    body: Iterable[ast.stmt], kind: Kind
) -> Iterable[tuple[ast.Import | ast.ImportFrom, Kind]]:
    """The import statements in ``body`` and the blocks inside it, each with its kind."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, kind
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _imports(node.body, Kind.LATE)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            inner = Kind.LATE if kind is Kind.LATE else Kind.TYPE_CHECKING
            yield from _imports(node.body, inner)
            yield from _imports(node.orelse, kind)
        else:  # if, try, with, for, while, match, class: their blocks run when they do
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports([child], kind)
                elif isinstance(child, ast.ExceptHandler | ast.match_case):
                    yield from _imports(child.body, kind)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, here: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules an import statement names (not the parents Python passes)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    base = node.module or ""
    if node.level:  # relative: ``from .. import x`` in package ``here`` means its parent's x
        parts = here.split(".")
        base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
    found: set[str] = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            found.add(submodule)
        elif base in modules:
            found.add(base)
    return found


def import_cycles(edges: Iterable[Edge]) -> list[list[Edge]]:
    """The cycles among ``edges``, each a loop of edges, enough to show every module in one.

    Modules in cycles fall into tangles (strongly connected components, Tarjan's
    algorithm). For each tangle this gives a shortest loop through its first module (by
    name), then through the first module no loop shows yet, and so on: every module caught
    in a cycle is named, and the message stays short however big the tangle.
    """
    graph: dict[str, dict[str, Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
        graph.setdefault(edge.target, {})
    cycles = []
    for tangle in _strongly_connected(graph):
        shown: set[str] = set()
        while len(tangle) > 1 and (left := tangle - shown):
            loop = _shortest_loop(graph, min(left), tangle)
            shown.update(edge.source for edge in loop)
            cycles.append(loop)
    return sorted(cycles, key=lambda loop: [(edge.source, edge.target) for edge in loop])


def _strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[set[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            tangle = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                tangle.add(member)
                if member == node:
                    break
            found.append(tangle)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_loop(graph: dict[str, dict[str, Edge]], start: str, tangle: set[str]) -> list[Edge]:
    """Breadth-first from ``start`` back to itself, inside ``tangle``."""
    came_by: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt, edge in sorted(graph[node].items()):
                if nxt not in tangle or nxt in came_by:
                    continue
                came_by[nxt] = edge
                if nxt == start:
                    loop = [edge]
                    while loop[0].source != start:
                        loop.insert(0, came_by[loop[0].source])
                    return loop
                following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected component but on no loop")


def describe_cycles(cycles: list[list[Edge]], root: Path = ROOT) -> str:
    """One paragraph per cycle: the modules around it, then each import that closes it."""
    paragraphs = []
    for loop in cycles:
        names = " -> ".join([loop[0].source, *(edge.target for edge in loop)])
        lines = [f"import cycle: {names}"]
        lines += [f"    {edge.describe(root)}" for edge in loop]
        paragraphs.append("\n".join(lines))
    return "\n".join(paragraphs)


def libraries_imported_at_top(modules: dict[str, Path]) -> list[str]:
    """What the package imports at module level from outside itself: SQLAlchemy, jinja2, ..."""
    found: set[str] = set()
    for path in modules.values():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _imports(tree.body, Kind.TOP):
            if kind is not Kind.TOP:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif node.level == 0 and node.module:
                found.add(node.module)
    return sorted(
        name for name in found if name.partition(".")[0] not in {PACKAGE.name, "__future__"}
    )


# --------------------------------------------------------------------------- the tests


@pytest.mark.slow
def test_every_module_imports_on_its_own() -> None:
    """Each module imported first, with none of the package loaded (``tests/import_each.py``)."""
    modules = package_modules()
    names = [name for name in modules if not name.endswith(".__main__")]
    # Guards the test: the walk found the package, deep modules included.
    assert {"mailcapture.cli.main", "mailcapture.publish.pdf", "mailcapture.db.models"} <= set(
        names
    )
    request = {"modules": names, "preload": libraries_imported_at_top(modules), "pool": POOL}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("import_each.py"))],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    results: dict[str, str | None] = json.loads(proc.stdout)
    assert sorted(results) == sorted(names)
    failed = {name: why for name, why in results.items() if why is not None}
    if failed:
        report = (
            f"{name} does not import on its own:\n{textwrap.indent(why, '    ')}"
            for name, why in failed.items()
        )
        pytest.fail("\n".join(report), pytrace=False)


@functools.cache
def _package_edges() -> tuple[Edge, ...]:
    return tuple(import_edges(package_modules()))


def test_no_import_cycle() -> None:
    edges = [edge for edge in _package_edges() if edge.kind is not Kind.LATE]
    # Guards the test: the reading found the imports (tick imports reports at the top).
    assert any(
        (edge.source, edge.target) == ("mailcapture.schedule.tick", "mailcapture.schedule.reports")
        for edge in edges
    )
    cycles = import_cycles(edges)
    if cycles:
        pytest.fail(describe_cycles(cycles), pytrace=False)


def test_no_cycle_even_through_late_imports() -> None:
    """A late import defers loading; it must not hide a module importing one above it."""
    edges = _package_edges()
    # Guards the test: late imports are read (the command imports its commands late).
    assert any(
        (edge.source, edge.target, edge.kind)
        == ("mailcapture.cli.main", "mailcapture.cli.commands", Kind.LATE)
        for edge in edges
    )
    cycles = import_cycles(edges)
    if cycles:
        pytest.fail(describe_cycles(cycles), pytrace=False)


def test_the_reading_finds_cycles_wherever_they_hide(tmp_path: Path) -> None:
    """The helpers on a made-up package: each kind of import, and each cycle named once."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        # a <-> b at module level, b's half inside try/except and a class body.
        "a.py": "from pkg import b\n",
        "b.py": "try:\n    import pkg.c\nexcept ImportError:\n    pass\n"
        "class K:\n    from pkg.a import x\n",
        # c -> d at the top; d -> c only for the type checker: still a cycle. d -> a makes
        # a, b, c and d one tangle.
        "c.py": "from pkg.d import thing\n",
        "d.py": "import pkg.a\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .c import T\n",
        # e <-> f only through a function: late, left out of the strict rule.
        "e.py": "import pkg.f\n",
        "f.py": "def g():\n    from pkg import e\n",
        # A package importing its own submodule is not a cycle with it.
        "sub/__init__.py": "from pkg.sub.leaf import y\n",
        "sub/leaf.py": "import os\nfrom .. import e\ny = os.sep\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    modules = package_modules(package)
    assert set(modules) == {f"pkg.{m}" for m in "abcdef"} | {"pkg", "pkg.sub", "pkg.sub.leaf"}
    edges = import_edges(modules)
    kinds = {(e.source, e.target): e.kind for e in edges}
    assert kinds == {
        ("pkg.a", "pkg.b"): Kind.TOP,
        ("pkg.b", "pkg.c"): Kind.TOP,
        ("pkg.b", "pkg.a"): Kind.TOP,
        ("pkg.c", "pkg.d"): Kind.TOP,
        ("pkg.d", "pkg.a"): Kind.TOP,
        ("pkg.d", "pkg.c"): Kind.TYPE_CHECKING,
        ("pkg.e", "pkg.f"): Kind.TOP,
        ("pkg.f", "pkg.e"): Kind.LATE,
        ("pkg.sub", "pkg.sub.leaf"): Kind.TOP,
        ("pkg.sub.leaf", "pkg.e"): Kind.TOP,
    }
    strict = import_cycles(e for e in edges if e.kind is not Kind.LATE)
    # One tangle (a -> b -> c -> d -> a), shown as two loops so that every module in it is
    # named: the shortest through a, then the shortest through c.
    assert [[(e.source, e.target) for e in loop] for loop in strict] == [
        [("pkg.a", "pkg.b"), ("pkg.b", "pkg.a")],
        [("pkg.c", "pkg.d"), ("pkg.d", "pkg.c")],
    ]
    every = import_cycles(edges)
    assert [[(e.source, e.target) for e in loop] for loop in every] == [
        [("pkg.a", "pkg.b"), ("pkg.b", "pkg.a")],
        [("pkg.c", "pkg.d"), ("pkg.d", "pkg.c")],
        [("pkg.e", "pkg.f"), ("pkg.f", "pkg.e")],
    ]
    text = describe_cycles(every, tmp_path)
    assert "import cycle: pkg.a -> pkg.b -> pkg.a" in text
    assert "pkg/f.py:2: from pkg import e  (inside a function)" in text
