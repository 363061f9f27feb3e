"""government and benchmarking returns: each indicator's LG Inform metric and SDL reference

An indicator may name the LG Inform metric it is (``lg_inform_id``) and the Single Data
List collection it is returned in (``sdl_reference``, e.g. ``082-00``), for ``mailcapture
export returns``. Both are optional. The council's ONS area code is a service setting
(``service_settings``, key ``council``), so it needs no column.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("indicators", sa.Column("lg_inform_id", sa.Integer(), nullable=True))
    op.add_column("indicators", sa.Column("sdl_reference", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # Not in batch mode: on SQLite that would copy the table, and the copy would lose the
    # expression index 0003 made (SQLAlchemy cannot reflect it). SQLite 3.35 and later
    # drop a column in place, as PostgreSQL does.
    op.drop_column("indicators", "sdl_reference")
    op.drop_column("indicators", "lg_inform_id")
