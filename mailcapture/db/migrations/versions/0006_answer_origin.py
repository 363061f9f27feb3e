"""where a figure or a status came from, when it was not typed: a spreadsheet's file and cell

A reply may carry our spreadsheet form filled in; each value or status read from it records
its file name, sheet and cell (``return-2026-04-kevin-walsh.xlsx, Return!H9``) for the audit
trail and ``export values``. Empty for a typed answer.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = ("component_values", "milestone_updates")


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: see 0005 (SQLite adds a nullable column in place).
    for table in _TABLES:
        op.add_column(table, sa.Column("origin", sa.String(300), nullable=True))


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_column(table, "origin")
