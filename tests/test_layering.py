"""Data flows one way: the HTTP layer uses search, validation and storage, never the reverse.

Each package may import only the packages listed for it (and itself); a new import against
the flow fails here rather than in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

ALLOWED: dict[str, set[str]] = {
    "model": {"errors"},
    "clients": {"errors"},
    "terminology": {"errors", "model", "storage", "clients"},
    "storage": {"errors", "config"},
    "validation": {"errors", "model", "terminology"},
    "search": {"errors", "model", "storage", "validation"},
    # Ingest writes with the REST API's own write semantics and write policy
    # (app.fhir.writes, app.fhir.resource_body); the HTTP routes for ingest live in app.fhir.
    "ingest": {
        "errors",
        "model",
        "storage",
        "validation",
        "terminology",
        "search",
        "clients",
        "config",
        "fhir",
    },
    # Security: the resource server's checks are pure (scopes, compartment) plus the store;
    # the embedded authorization server and the audit trail need the FHIR context (base URL,
    # the store) and the patient picker searches.
    "auth": {"config", "errors", "fhir", "model", "search", "storage"},
    # The pathway derives CarePlans from what ingest and the REST API stored, and writes them
    # with the REST API's write semantics; its ids share ingest's uuid5 namespace.
    "pathway": {
        "errors",
        "model",
        "storage",
        "validation",
        "terminology",
        "search",
        "config",
        "fhir",
        "ingest",
    },
}


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (APP / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "app" and len(parts) > 1:
                    found.add(parts[1])
    return found - {package}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_comes_before_it(package: str) -> None:
    assert _imports(package) <= ALLOWED[package], _imports(package) - ALLOWED[package]


def test_the_check_sees_imports() -> None:
    assert "storage" in _imports("search")
    assert {"search", "storage", "model"} <= _imports("fhir")
