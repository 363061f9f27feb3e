"""``python -m mailcapture`` is the same as the ``mailcapture`` command."""

from mailcapture.cli.main import run

run()
