"""The ingest log: every unit of centre input, stored before it is acknowledged or mapped,
with its status (received, mapped, quarantined) and outcome; and polling watermarks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ingest_unit",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("unit_id", sa.Text, nullable=False, unique=True),
        sa.Column("centre", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("transport", sa.Text, nullable=False),
        sa.Column("source_name", sa.Text, nullable=True),
        sa.Column("position", sa.Text, nullable=True),
        sa.Column("context", sa.LargeBinary, nullable=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.LargeBinary, nullable=True),
        sa.Column("result", sa.LargeBinary, nullable=True),
    )
    op.create_index("ix_ingest_unit_status", "ingest_unit", ["status", "centre", "seq"])
    op.create_table(
        "ingest_watermark",
        sa.Column("centre", sa.Text, primary_key=True),
        sa.Column("res_type", sa.Text, primary_key=True),
        sa.Column("instant", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ingest_watermark")
    op.drop_index("ix_ingest_unit_status", table_name="ingest_unit")
    op.drop_table("ingest_unit")
