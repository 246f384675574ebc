"""Pathway tracking: the queue of patients to derive again, and one flat row per episode.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TEXT = (
    "stage",
    "status",
    "referred",
    "referral_centre",
    "referral_source",
    "mdt",
    "mdt_centre",
    "decision",
    "treatment_scheduled",
    "treated",
    "treating_centre",
    "modality",
    "operator",
    "aetiology",
    "follow_up",
    "discharged",
    "ended",
    "exit",
    "rtt_status",
    "rtt_stop",
    "sex",
    "birth_date",
    "area",
    "centres",
)


def upgrade() -> None:
    op.create_table(
        "pathway_dirty",
        sa.Column("patient_id", sa.Text, primary_key=True),
        sa.Column("queued_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "pathway_episode",
        sa.Column("careplan_id", sa.Text, primary_key=True),
        sa.Column("patient_id", sa.Text, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("repair", sa.Boolean, nullable=True),
        *[sa.Column(name, sa.Text, nullable=name not in ("stage", "status")) for name in _TEXT],
    )
    op.create_index("ix_pathway_episode_patient", "pathway_episode", ["patient_id"])
    op.create_index("ix_pathway_episode_referred", "pathway_episode", ["referred"])
    op.create_index("ix_pathway_episode_treated", "pathway_episode", ["treated"])


def downgrade() -> None:
    op.drop_table("pathway_episode")
    op.drop_table("pathway_dirty")
