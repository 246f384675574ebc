"""The docs stay true: generated docs match the server, ADRs keep their shape, and the
configuration reference and Dockerfile name only settings that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ADRS = sorted((DOCS / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
ADR_SECTIONS = ("Context", "Decision", "Consequences")
ENV_NAME = re.compile(r"\bMITRAL_FHIR_[A-Z_]+\b")


def _setting_variables() -> set[str]:
    return {f"MITRAL_FHIR_{name.upper()}" for name in Settings.model_fields}


def test_generated_capability_docs_are_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_capability_docs.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        "docs/capability-statement.json or docs/api-conformance.md no longer match the "
        "server; run `python scripts/generate_capability_docs.py`\n" + result.stderr
    )


def test_generated_profile_docs_are_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_profile_docs.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        "docs/profiles/ no longer matches profiles/build/; run "
        "`python scripts/generate_profile_docs.py`\n" + result.stderr
    )


def test_adrs_exist():
    assert ADRS, "docs/adr/ holds no NNNN-title.md records"


@pytest.mark.parametrize("path", ADRS, ids=[p.name for p in ADRS])
def test_adr_has_context_decision_and_consequences(path: Path):
    headings = re.findall(r"^#{2,3}\s+(.+?)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)
    missing = [s for s in ADR_SECTIONS if s not in headings]
    assert not missing, f"{path.name} lacks the section(s) {', '.join(missing)}"
    order = [headings.index(s) for s in ADR_SECTIONS]
    assert order == sorted(order), f"{path.name}: sections should run {', '.join(ADR_SECTIONS)}"


def test_adr_numbers_are_unique():
    numbers = [p.name[:4] for p in ADRS]
    assert len(numbers) == len(set(numbers))


def test_configuration_doc_describes_every_setting():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    documented = set(ENV_NAME.findall(text))
    assert not _setting_variables() - documented, "settings missing from docs/configuration.md"
    assert not documented - _setting_variables(), "docs/configuration.md names unknown settings"


def test_dockerfile_sets_only_real_settings():
    names = set(ENV_NAME.findall((ROOT / "Dockerfile").read_text(encoding="utf-8")))
    assert names, "the Dockerfile sets no MITRAL_FHIR_* defaults"
    assert names <= _setting_variables()
