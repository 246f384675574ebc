"""docs/benchmarks.md keeps every script's section when another script rewrites the file."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sections = importlib.import_module("sections")  # a script directory, not a package

SEARCH = (
    "<!-- search-bench:start -->\n## Search at scale\n| p95 | 6.1 |\n<!-- search-bench:end -->\n"
)
TERMS = (
    "<!-- terminology-bench:start -->\n## Terminology\n321,329/s\n<!-- terminology-bench:end -->\n"
)


def test_a_suite_run_carries_over_both_owned_sections():
    previous = f"# Benchmarks\n\nold suite figures\n\n{SEARCH}\n{TERMS}"

    rendered = sections.carry_over("# Benchmarks\n\nnew suite figures\n", previous)

    assert "new suite figures" in rendered
    assert "old suite figures" not in rendered
    assert SEARCH in rendered
    assert TERMS in rendered


def test_splice_replaces_only_its_own_section():
    document = f"# Benchmarks\n\n{SEARCH}\n{TERMS}"
    new = TERMS.replace("321,329/s", "400,000/s")

    spliced = sections.splice(document, "terminology-bench", new)

    assert "400,000/s" in spliced
    assert "321,329/s" not in spliced
    assert SEARCH in spliced


def test_splice_appends_a_missing_section():
    assert sections.splice("# Benchmarks\n", "search-bench", SEARCH).endswith(SEARCH)
