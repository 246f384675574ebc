"""A LocalTerminology over the hand-written fixture content, shared by the engine tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.terminology.local import LocalTerminology

FIXTURES = Path(__file__).parent / "fixtures"
VALID = FIXTURES / "valid" / "terminology"
BROKEN = FIXTURES / "broken"

BASE = "https://fhir.southlondon-mitral.nhs.uk"
SCT = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
OPCS4 = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
LOINC = "http://loinc.org"
ST_THOMAS = f"{BASE}/CodeSystem/local-st-thomas"


@pytest.fixture(scope="session")
def terminology() -> LocalTerminology:
    return LocalTerminology.from_directory(VALID)


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A writable copy of the valid fixture content, to break one file at a time."""
    target = tmp_path / "terminology"
    shutil.copytree(VALID, target)
    return target
