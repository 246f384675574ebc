"""The derivation queue read in order, and both queue tables vacuumed as they churn.

``pathway_dirty`` is claimed oldest first (``ORDER BY queued_at LIMIT``): without an index
each claim read and sorted the whole queue (20,000 rows a batch during a rebuild). On
PostgreSQL a queue's rows are deleted as fast as they are added, and until a vacuum every
deleted row stays in the table: after a bulk derivation a claim of an empty queue read
257 pages of dead rows (1 ms, a third of a derivation per message). Autovacuum's default
waits for a fifth of the table to be dead; for these two tables it starts after a thousand
dead rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_QUEUES = ("pathway_dirty", "audit_queue")
_AUTOVACUUM = "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000"


def upgrade() -> None:
    op.create_index("ix_pathway_dirty_queued", "pathway_dirty", ["queued_at", "patient_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _QUEUES:
            op.execute(f"ALTER TABLE {table} SET ({_AUTOVACUUM})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _QUEUES:
            op.execute(
                f"ALTER TABLE {table} RESET "
                "(autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold)"
            )
    op.drop_index("ix_pathway_dirty_queued", table_name="pathway_dirty")
