"""The regional profiles build: committed snapshots are current and obey the base R4 rules.

`scripts/build_profiles.py` turns the differentials in `profiles/source/` into snapshots in
`profiles/build/` (ADR 0007). These tests run it the way CI does (`--check`), check what it
generated against the vendored R4 base definitions, and feed it broken differentials to see
that the error names the file and the element.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import pytest

REPO: Final = Path(__file__).resolve().parents[2]
PROFILES: Final = REPO / "profiles"
SCRIPT: Final = REPO / "scripts" / "build_profiles.py"
SD: Final = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
ABSTRACT_ROOTS: Final = frozenset({"Element", "BackboneElement", "Resource", "DomainResource"})
MV_PROFILES: Final = (
    "MV-Patient", "MV-Organization", "MV-Service", "MV-Referral", "MV-InterventionRequest",
    "MV-Pathway", "MV-Procedure", "MV-EchoAssessment",
)  # fmt: skip


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _built() -> dict[str, dict[str, Any]]:
    return {
        sd["id"]: sd
        for sd in map(_json, sorted((PROFILES / "build").glob("StructureDefinition-*.json")))
    }


def _base_elements() -> dict[str, dict[str, Any]]:
    """Every element of the vendored R4 base snapshots, by path."""
    out: dict[str, dict[str, Any]] = {}
    for path in (PROFILES / "base").glob("StructureDefinition-*.json"):
        for el in _json(path)["snapshot"]["element"]:
            out.setdefault(el["path"], el)
    return out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def _max(text: str) -> float:
    return float("inf") if text == "*" else float(text)


def test_build_is_current() -> None:
    result = _run("--check")
    assert result.returncode == 0, result.stderr


def test_every_profile_is_built_with_a_snapshot() -> None:
    built = _built()
    assert set(MV_PROFILES) <= set(built)
    for name in MV_PROFILES:
        sd = built[name]
        assert sd["url"] == SD + name
        assert (sd["version"], sd["status"], sd["derivation"]) == ("1.0.0", "active", "constraint")
        assert sd["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/" + sd["type"]
        assert sd["snapshot"]["element"][0]["id"] == sd["type"]
        assert "restate" in sd["description"] or "UK Core" in sd["description"]


def _origin(base: dict[str, dict[str, Any]], el: dict[str, Any]) -> dict[str, Any] | None:
    """The vendored base element a snapshot element was made from (by path, then base.path)."""
    return base.get(el["path"]) or base.get(el["base"]["path"])


def test_snapshot_elements_come_from_the_base_or_the_differential() -> None:
    base = _base_elements()
    for name, sd in _built().items():
        snapshot_ids = {el["id"] for el in sd["snapshot"]["element"]}
        for el in sd["snapshot"]["element"]:
            origin = el["base"]["path"]
            known = _origin(base, el) is not None or origin.split(".")[0] in ABSTRACT_ROOTS
            assert known, f"{name}: {el['id']} comes from unknown {origin}"
            assert el["path"].rsplit(".", 1)[-1] == origin.rsplit(".", 1)[-1], el["id"]
        for diff in sd["differential"]["element"]:
            assert diff["id"] in snapshot_ids, f"{name}: differential {diff['id']} not applied"


def test_min_and_max_never_loosen_the_base() -> None:
    base = _base_elements()
    for name, sd in _built().items():
        for el in sd["snapshot"]["element"]:
            origin = _origin(base, el) or el["base"]  # Element.id & co: the recorded base
            assert _max(el["max"]) <= _max(origin["max"]), f"{name}: {el['id']} max loosened"
            if "sliceName" not in el:
                assert el["min"] >= origin["min"], f"{name}: {el['id']} min loosened"
            assert el["min"] <= _max(el["max"]), f"{name}: {el['id']} min > max"


def _element(sd: dict[str, Any], element_id: str) -> dict[str, Any]:
    return next(el for el in sd["snapshot"]["element"] if el["id"] == element_id)


def test_slices_are_inserted_with_their_children() -> None:
    built = _built()
    patient = built["MV-Patient"]
    ids = [el["id"] for el in patient["snapshot"]["element"]]
    sliced = ids.index("Patient.identifier")
    assert ids[sliced + 1] == "Patient.identifier:nhsNumber"  # right after the sliced element
    nhs = _element(patient, "Patient.identifier:nhsNumber")
    assert (nhs["min"], nhs["max"], nhs["sliceName"]) == (1, "1", "nhsNumber")
    system = _element(patient, "Patient.identifier:nhsNumber.system")
    assert system["fixedUri"] == "https://fhir.nhs.uk/Id/nhs-number"
    assert system["path"] == "Patient.identifier.system"
    assert system["base"]["path"] == "Identifier.system"
    assert _element(patient, "Patient.identifier")["slicing"]["discriminator"] == [
        {"type": "value", "path": "system"}
    ]
    status_url = _element(
        patient, "Patient.identifier:nhsNumber.extension:nhsNumberVerificationStatus.url"
    )
    assert status_url["fixedUri"].endswith("Extension-UKCore-NHSNumberVerificationStatus")

    procedure = built["MV-Procedure"]
    snomed = _element(procedure, "Procedure.code.coding:snomed")
    assert snomed["binding"]["valueSet"].endswith("/ValueSet/valve-procedures")
    assert snomed["binding"]["strength"] == "required"
    opcs = _element(procedure, "Procedure.code.coding:opcs.system")
    assert opcs["fixedUri"] == "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
    performed = _element(procedure, "Procedure.performed[x]")
    assert performed["min"] == 1
    assert [t["code"] for t in performed["type"]] == ["dateTime", "Period"]
    on_behalf = _element(procedure, "Procedure.performer.onBehalfOf")
    assert on_behalf["type"][0]["targetProfile"] == [SD + "MV-Organization"]


def test_profile_constraints_are_tagged_with_their_source() -> None:
    referral = _built()["MV-Referral"]
    root = referral["snapshot"]["element"][0]
    ours = [c for c in root["constraint"] if c["key"] == "mv-ref-1"]
    assert ours and ours[0]["source"] == SD + "MV-Referral"
    assert any(c["key"] == "dom-2" for c in root["constraint"])  # the base ones are kept


def _copy_profiles(tmp_path: Path) -> Path:
    target = tmp_path / "profiles"
    for part in ("source", "base"):
        shutil.copytree(PROFILES / part, target / part)
    (target / "build").mkdir()
    return target


def _edit_differential(root: Path, name: str, element_id: str, **changes: Any) -> None:
    path = root / "source" / f"{name}.json"
    sd = _json(path)
    elements = sd["differential"]["element"]
    match = [el for el in elements if el["id"] == element_id]
    if match:
        match[0].update(changes)
    else:
        path_text = ".".join(seg.split(":")[0] for seg in element_id.split("."))
        elements.append({"id": element_id, "path": path_text, **changes})
    path.write_text(json.dumps(sd), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "element_id", "changes", "message"),
    [
        ("MV-Referral", "ServiceRequest.subject", {"min": 0}, "loosens the base min 1"),
        ("MV-Referral", "ServiceRequest.code", {"max": "*"}, "loosens the base max 1"),
        ("MV-Procedure", "Procedure.performed[x]", {"type": [{"code": "Quantity"}]}, "Quantity"),
        ("MV-Patient", "Patient.nickname", {"mustSupport": True}, "no such element"),
        ("MV-Patient", "Patient.name:maiden", {"min": 0}, "has no slicing"),
        (
            "MV-Referral",
            "ServiceRequest.subject",
            {"type": [{"code": "Reference", "targetProfile": [SD + "MV-Organization"]}]},
            "not one of the base's",
        ),
        (
            "MV-Referral",
            "ServiceRequest.intent",
            {"binding": {"strength": "extensible", "valueSet": "http://example.org/vs"}},
            "loosens the base's required binding",
        ),
        ("MV-Referral", "ServiceRequest.status", {"fixedUri": "x"}, "does not match"),
    ],
)
def test_broken_differential_names_file_and_element(
    tmp_path: Path, name: str, element_id: str, changes: dict[str, Any], message: str
) -> None:
    root = _copy_profiles(tmp_path)
    _edit_differential(root, name, element_id, **changes)
    result = _run("--profiles", str(root))
    assert result.returncode == 2
    assert f"{name}.json: element {element_id}:" in result.stderr
    assert message in result.stderr
    assert not list((root / "build").iterdir())


def test_check_reports_a_stale_build(tmp_path: Path) -> None:
    root = _copy_profiles(tmp_path)
    assert _run("--profiles", str(root)).returncode == 0
    assert _run("--profiles", str(root), "--check").returncode == 0
    _edit_differential(root, "MV-Patient", "Patient.gender", short="Administrative gender")
    result = _run("--profiles", str(root), "--check")
    assert result.returncode == 1
    assert "StructureDefinition-MV-Patient.json: stale" in result.stderr
    assert "Administrative gender" in result.stderr


def test_choice_rename_restricts_the_type(tmp_path: Path) -> None:
    root = _copy_profiles(tmp_path)
    _edit_differential(root, "MV-Procedure", "Procedure.performedDateTime", mustSupport=True)
    assert _run("--profiles", str(root)).returncode == 0, "build failed"
    sd = _json(root / "build" / "StructureDefinition-MV-Procedure.json")
    performed = _element(sd, "Procedure.performed[x]")
    assert [t["code"] for t in performed["type"]] == ["dateTime"]


def test_build_is_deterministic(tmp_path: Path) -> None:
    root = _copy_profiles(tmp_path)
    assert _run("--profiles", str(root)).returncode == 0
    for path in (root / "build").iterdir():
        text = path.read_text(encoding="utf-8")
        assert text == (PROFILES / "build" / path.name).read_text(encoding="utf-8")
        assert text.endswith("}\n") and '\n  "resourceType"' in text
