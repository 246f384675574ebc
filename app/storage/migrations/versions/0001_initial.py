"""Initial schema: resources, versions and search index tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _index_table(
    name: str, columns: list[sa.Column[Any]], indexes: list[list[str]]
) -> None:
    op.create_table(
        name,
        sa.Column("res_type", sa.Text, nullable=False),
        sa.Column("res_id", sa.Text, nullable=False),
        sa.Column("param", sa.Text, nullable=False),
        sa.Column("grp", sa.Integer, nullable=True),
        *columns,
    )
    op.create_index(f"ix_{name}_resource", name, ["res_type", "res_id"])
    for cols in indexes:
        op.create_index(f"ix_{name}_{'_'.join(cols)}", name, ["res_type", "param", *cols])


def upgrade() -> None:
    op.create_table(
        "resource",
        sa.Column("res_type", sa.Text, primary_key=True),
        sa.Column("res_id", sa.Text, primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.Column("centre", sa.Text, nullable=True),
    )
    op.create_index("ix_resource_type_updated", "resource", ["res_type", "last_updated"])
    op.create_table(
        "resource_version",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("res_type", sa.Text, nullable=False),
        sa.Column("res_id", sa.Text, nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.BigInteger, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.UniqueConstraint("res_type", "res_id", "version_id", name="uq_resource_version"),
    )
    op.create_index("ix_resource_version_type_seq", "resource_version", ["res_type", "seq"])
    _index_table(
        "search_token",
        [
            sa.Column("system", sa.Text, nullable=True),
            sa.Column("code", sa.Text, nullable=True),
            sa.Column("text", sa.Text, nullable=True),
        ],
        [["code", "system"]],
    )
    _index_table(
        "search_string",
        [
            sa.Column("value", sa.Text, nullable=False),
            sa.Column("exact", sa.Text, nullable=False),
        ],
        [["value"]],
    )
    _index_table(
        "search_reference",
        [
            sa.Column("target_type", sa.Text, nullable=True),
            sa.Column("target_id", sa.Text, nullable=True),
            sa.Column("target_version", sa.Text, nullable=True),
            sa.Column("url", sa.Text, nullable=True),
            sa.Column("ident_system", sa.Text, nullable=True),
            sa.Column("ident_value", sa.Text, nullable=True),
        ],
        [["target_id", "target_type"], ["url"]],
    )
    _index_table(
        "search_date",
        [
            sa.Column("low", sa.BigInteger, nullable=False),
            sa.Column("high", sa.BigInteger, nullable=False),
        ],
        [["low", "high"]],
    )
    _index_table(
        "search_number",
        [
            sa.Column("value", sa.Float, nullable=False),
            sa.Column("low", sa.Float, nullable=False),
            sa.Column("high", sa.Float, nullable=False),
        ],
        [["value"]],
    )
    _index_table(
        "search_quantity",
        [
            sa.Column("value", sa.Float, nullable=False),
            sa.Column("low", sa.Float, nullable=False),
            sa.Column("high", sa.Float, nullable=False),
            sa.Column("system", sa.Text, nullable=True),
            sa.Column("code", sa.Text, nullable=True),
            sa.Column("unit", sa.Text, nullable=True),
        ],
        [["code", "value"]],
    )
    _index_table("search_uri", [sa.Column("value", sa.Text, nullable=False)], [["value"]])


def downgrade() -> None:
    for name in (
        "search_uri",
        "search_quantity",
        "search_number",
        "search_date",
        "search_reference",
        "search_string",
        "search_token",
        "resource_version",
        "resource",
    ):
        op.drop_table(name)
