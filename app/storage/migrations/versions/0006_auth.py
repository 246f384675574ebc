"""The embedded SMART authorization server: codes, launch handles, issued access tokens,
refresh tokens and used client-assertion ``jti``s.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_code",
        sa.Column("code_hash", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "auth_launch",
        sa.Column("handle", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("patient", sa.Text, nullable=True),
        sa.Column("encounter", sa.Text, nullable=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "auth_token",
        sa.Column("jti", sa.Text, primary_key=True),
        sa.Column("grant_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_auth_token_grant", "auth_token", ["grant_id"])
    op.create_index("ix_auth_token_revoked", "auth_token", ["revoked_at"])
    op.create_table(
        "auth_refresh",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("grant_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_auth_refresh_grant", "auth_refresh", ["grant_id"])
    op.create_table(
        "auth_assertion",
        sa.Column("issuer", sa.Text, primary_key=True),
        sa.Column("jti", sa.Text, primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("auth_assertion")
    op.drop_index("ix_auth_refresh_grant", table_name="auth_refresh")
    op.drop_table("auth_refresh")
    op.drop_index("ix_auth_token_revoked", table_name="auth_token")
    op.drop_index("ix_auth_token_grant", table_name="auth_token")
    op.drop_table("auth_token")
    op.drop_table("auth_launch")
    op.drop_table("auth_code")
