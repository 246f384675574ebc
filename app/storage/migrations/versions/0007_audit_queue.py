"""The audit trail's durable queue: accesses waiting to become indexed AuditEvents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("event", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_queue")
