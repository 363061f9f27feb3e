"""indexes that keep the per-message lookups bounded as messages pile up

Three lookups every processed message (or every batch) makes were served by an index on
one column only, so their cost grew with everything ever stored:

* the loop check (``mailflow.loops._recent``): a sender's messages since the start of the
  day, newest first, at most 200. With ``sender`` alone the database walked back through
  every message the sender ever sent, reading each row to test ``received_at``, whenever
  the sender had fewer than 200 messages in the window (nearly always).
  ``(sender, received_at)`` bounds it by the window;
* ``process_batch``'s wait check: is an earlier message from the same sender still
  ``received``? With ``sender`` alone, every earlier message from the sender was read.
  ``(sender, state)`` finds only the ones still waiting;
* the hourly counts of a kind of automatic mail (held-reply notices, notices to unknown
  senders): the outbox was scanned whole (SQLite) for each. ``(kind, created_at)`` reads
  the last hour's rows of that kind.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_inbound_messages_sender_received", "inbound_messages", ["sender", "received_at"]
    )
    op.create_index("ix_inbound_messages_sender_state", "inbound_messages", ["sender", "state"])
    op.create_index("ix_outbox_messages_kind_created", "outbox_messages", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_kind_created", table_name="outbox_messages")
    op.drop_index("ix_inbound_messages_sender_state", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_sender_received", table_name="inbound_messages")
