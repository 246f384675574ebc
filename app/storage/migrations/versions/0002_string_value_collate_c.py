"""search_string.value in the "C" collation on PostgreSQL, for indexed prefix search.

String search (default: starts-with) is a range ``value >= prefix AND value < successor``
(app/search/query_leaf.py), which the (res_type, param, value) index answers only if the
column compares in code point order: SQLite's default BINARY collation does; on PostgreSQL
the database's collation may not (en_US and C.UTF-8 are not treated as "C"), so the column
and its indexes are rebuilt in the "C" collation. SQLite is unchanged.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "search_string",
            "value",
            type_=sa.Text(collation="C"),
            existing_type=sa.Text(),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "search_string",
            "value",
            type_=sa.Text(),
            existing_type=sa.Text(collation="C"),
            existing_nullable=False,
        )
