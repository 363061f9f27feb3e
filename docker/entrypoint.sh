#!/bin/sh
# The container's entrypoint: make the database ready, then run the command (default: serve).
#
# `mailcapture init` is idempotent (an alembic upgrade to this release's schema), so it runs
# on every start: a new image upgrades the database before serving. When MAILCAPTURE_CONFIG
# names a register folder (a mounted volume), it is loaded too; loading is idempotent, so an
# unchanged register changes nothing. Any failure stops the container with its one-line reason.
#
# Other commands run the same way after the preparation, e.g.
#   docker compose run --rm mailcapture status
#   docker compose run --rm mailcapture publish --period "2026/27 Q1" --out /data/site
set -eu

mailcapture init
if [ -n "${MAILCAPTURE_CONFIG:-}" ]; then
    mailcapture load "$MAILCAPTURE_CONFIG"
fi
exec mailcapture "$@"
