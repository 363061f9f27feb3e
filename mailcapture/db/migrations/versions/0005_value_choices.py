"""several updaters for one indicator: the owner chooses between differing figures

A figure that differs from the one another person sent for the same component and period
is kept beside it (state ``conflicting``, a value of the VARCHAR column: no schema change),
and the indicator's owner is asked to choose by email. The question is a report run of
kind ``value_choice`` (token, Message-ID, expiry, as owner reports have), which names its
component; the chosen figure records who chose it and when.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailcapture.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


#: (table, column, referred table, constraint name) of the two new foreign keys.
_KEYS = (
    ("report_runs", "component_id", "components", "fk_report_runs_component_id_components"),
    ("component_values", "chosen_by_id", "people", "fk_component_values_chosen_by_id_people"),
)


def upgrade() -> None:
    # Not in batch mode: on SQLite that would copy the tables, reflecting the tables they
    # refer to, whose expression indexes (0003) SQLAlchemy cannot reflect. SQLite adds a
    # column with its (named) foreign key in place; PostgreSQL adds the constraint after.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, referred, name in _KEYS:
        if sqlite:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES {referred} (id)"
            )
        else:
            op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(name, table, referred, [column], ["id"])
    op.add_column(
        "component_values",
        sa.Column("chosen_at", mailcapture.db.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_column("component_values", "chosen_at")
    for table, column, _, name in reversed(_KEYS):
        if not sqlite:
            op.drop_constraint(name, table, type_="foreignkey")
        op.drop_column(table, column)
