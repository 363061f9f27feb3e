"""expression indexes for the case-blind lookups

Indicator codes and people's addresses are looked up as a person typed them, through
``lower(...)``; an index on the bare column cannot serve that, so every reply's commentary
check scanned the whole register. Both SQLite and PostgreSQL index expressions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_indicators_code_lower", "indicators", [sa.text("lower(code)")])
    op.create_index("ix_people_email_lower", "people", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_people_email_lower", table_name="people")
    op.drop_index("ix_indicators_code_lower", table_name="indicators")
