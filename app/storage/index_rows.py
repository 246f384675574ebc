"""Search index rows as the store writes them: plain tuples in table column order.

The search package computes them from a resource; the store writes them in the same
transaction as the resource, one batched statement per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Columns after (res_type, res_id), per table, in insert order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "search_token": ("param", "grp", "system", "code", "text"),
    "search_string": ("param", "grp", "value", "exact"),
    "search_reference": (
        "param",
        "grp",
        "target_type",
        "target_id",
        "target_version",
        "url",
        "ident_system",
        "ident_value",
    ),
    "search_date": ("param", "grp", "low", "high", "span"),
    "search_number": ("param", "grp", "value", "low", "high"),
    "search_quantity": ("param", "grp", "value", "low", "high", "system", "code", "unit"),
    "search_uri": ("param", "grp", "value"),
}


@dataclass(slots=True)
class IndexRows:
    """Rows per index table, each a tuple matching COLUMNS[table]."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, *values: Any) -> None:
        self.rows.setdefault(table, []).append(values)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values())
