"""report runs that can be answered; cumulative indicators

Owner and department reports invite answers by email (sign-off, query, commentary), so a
report run carries a token like a data request's, and an inbound message can point at the
report run it answers. An indicator can be marked cumulative (a year-to-date figure, whose
direction of travel is against the same period last year).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import mailcapture.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cumulative", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("expires_at", mailcapture.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_report_runs_department_id_departments"),
            "departments",
            ["department_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(batch_op.f("uq_report_runs_token"), ["token"])
        batch_op.create_unique_constraint(batch_op.f("uq_report_runs_message_id"), ["message_id"])
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_run_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_inbound_messages_report_run_id_report_runs"),
            "report_runs",
            ["report_run_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_report_run_id"), ["report_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_report_run_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_inbound_messages_report_run_id_report_runs"), type_="foreignkey"
        )
        batch_op.drop_column("report_run_id")
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_report_runs_message_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_report_runs_token"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_report_runs_department_id_departments"), type_="foreignkey"
        )
        batch_op.drop_column("expires_at")
        batch_op.drop_column("message_id")
        batch_op.drop_column("token")
        batch_op.drop_column("department_id")
    with op.batch_alter_table("indicators", schema=None) as batch_op:
        batch_op.drop_column("cumulative")
