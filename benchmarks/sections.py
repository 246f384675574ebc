"""Sections of docs/benchmarks.md that belong to one benchmark script each.

benchmarks/run.py writes the whole file from its own results; the other scripts (search at
scale, terminology) own a section between markers, which each of them replaces alone and which
a run of the main suite carries over untouched.
"""

from __future__ import annotations

import re
from pathlib import Path

OWNED = (
    "search-bench",
    "terminology-bench",
    "validation-bench",
    "ingest-bench",
    "pathway-bench",
    "security-bench",
)
"""The marker names of the sections other scripts own, in the order they appear."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _pattern(name: str) -> re.Pattern[str]:
    start, end = markers(name)
    return re.compile(re.escape(start) + ".*?" + re.escape(end) + r"\n?", re.DOTALL)


def splice(document: str, name: str, section: str) -> str:
    """``document`` with section ``name`` replaced by ``section`` (appended if absent)."""
    pattern = _pattern(name)
    if pattern.search(document):
        return pattern.sub(lambda _: section, document)
    return document.rstrip("\n") + "\n\n" + section


def existing(document: str, name: str) -> str | None:
    match = _pattern(name).search(document)
    return match.group(0) if match else None


def carry_over(rendered: str, previous: str) -> str:
    """``rendered`` plus every owned section ``previous`` holds (a run of the main suite
    redoes none of them)."""
    for name in OWNED:
        section = existing(previous, name)
        if section:
            rendered = splice(rendered, name, section)
    return rendered


def write(output: Path, name: str, section: str) -> None:
    """Replace (or add) section ``name`` of ``output``, creating the file if need be."""
    document = output.read_text() if output.exists() else "# Benchmarks\n"
    output.write_text(splice(document, name, section))
