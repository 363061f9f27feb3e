"""Folders of data that ship inside the package: templates, migrations, the sample register.

They live under ``mailcapture/`` (not beside it in the checkout) so that an editable
install, ``pip install .`` and a built wheel find them the same way, from any working
directory, through :mod:`importlib.resources`. mailcapture is installed as files, never
zipped: alembic and Jinja read these folders as real paths.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from mailcapture.errors import UserError


class MissingResource(UserError):
    """A folder the package should carry is missing: the installation is incomplete."""


def package_dir(*parts: str) -> Path:
    """The real path of ``mailcapture/<parts>``, or :class:`MissingResource` naming it."""
    path = Path(str(files("mailcapture").joinpath(*parts)))
    if not path.is_dir():
        raise MissingResource(
            f"{'/'.join(parts)} not found at {path}: the installation is incomplete, reinstall "
            "mailcapture"
        )
    return path


def sample_register() -> Path:
    """The sample register of Ashdown District Council (the demo's and the tests')."""
    return package_dir("register", "sample")
