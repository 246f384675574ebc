"""ProfileRegistry: loading compiled snapshots, lookup by url and url|version, load errors."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.validation.profiles import ProfileLoadError, ProfileRegistry, compile_profile

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
BASE = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
REFERRAL = BASE + "MV-Referral"


def referral_sd() -> dict[str, Any]:
    raw: dict[str, Any] = orjson.loads(
        (FIXTURES / "StructureDefinition-MV-Referral.json").read_bytes()
    )
    return raw


def element(sd: dict[str, Any], eid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in sd["snapshot"]["element"] if e["id"] == eid)
    return found


def test_every_fixture_profile_loads() -> None:
    registry = ProfileRegistry.from_directory(FIXTURES)
    assert REFERRAL in registry.urls()
    assert BASE + "Extension-MV-SurgicalApproach" in registry.urls()
    profile = registry.get(REFERRAL)
    assert profile is not None
    assert (profile.type, profile.version, profile.kind) == ("ServiceRequest", "1.0.0", "resource")


def test_lookup_by_url_and_version() -> None:
    registry = ProfileRegistry.from_directory(FIXTURES)
    assert registry.get(f"{REFERRAL}|1.0.0") is registry.get(REFERRAL)
    assert registry.get(f"{REFERRAL}|9.9.9") is None
    assert registry.get(BASE + "MV-Unknown") is None


def test_the_latest_version_answers_an_unversioned_url() -> None:
    old, new = referral_sd(), referral_sd()
    old["version"], new["version"] = "1.9.0", "1.10.0"
    registry = ProfileRegistry([compile_profile(new, "new.json"), compile_profile(old, "old.json")])
    latest = registry.get(REFERRAL)
    assert latest is not None and latest.version == "1.10.0"
    first = registry.get(f"{REFERRAL}|1.9.0")
    assert first is not None and first.file == "old.json"


def test_the_tree_keeps_only_elements_with_rules() -> None:
    profile = ProfileRegistry.from_directory(FIXTURES).get(REFERRAL)
    assert profile is not None
    children = profile.root.children
    assert {"identifier", "category", "code", "subject", "authoredOn"} <= set(children)
    assert "patientInstruction" not in children  # unconstrained: nothing to check
    assert [s.name for s in children["identifier"].slices] == ["ubrn"]
    assert children["subject"].targets == frozenset({"Patient"})
    assert [i.key for i in profile.root.invariants] == ["mv-ref-1"]  # not the base dom-*


def test_extension_slices_link_to_their_definition() -> None:
    registry = ProfileRegistry.from_directory(FIXTURES)
    procedure = registry.get(BASE + "MV-Procedure")
    extension = registry.get(BASE + "Extension-MV-SurgicalApproach")
    assert procedure is not None and extension is not None
    (approach,) = procedure.root.children["extension"].slices
    assert approach.node.ext_root is extension.root


def test_a_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "StructureDefinition-Broken.json").write_text("{ not json")
    with pytest.raises(ProfileLoadError, match=r"StructureDefinition-Broken\.json: cannot read"):
        ProfileRegistry.from_directory(tmp_path)


def test_a_resource_that_is_not_a_structure_definition(tmp_path: Path) -> None:
    vs = {"resourceType": "ValueSet", "url": "https://example.org/vs"}
    (tmp_path / "StructureDefinition-X.json").write_bytes(orjson.dumps(vs))
    with pytest.raises(ProfileLoadError, match="not a StructureDefinition"):
        ProfileRegistry.from_directory(tmp_path)


def test_a_missing_snapshot_asks_for_the_build() -> None:
    sd = referral_sd()
    del sd["snapshot"]
    with pytest.raises(ProfileLoadError, match="no snapshot"):
        compile_profile(sd, "StructureDefinition-MV-Referral.json")


def test_a_bad_cardinality_names_the_element() -> None:
    sd = referral_sd()
    element(sd, "ServiceRequest.authoredOn")["max"] = "many"
    with pytest.raises(ProfileLoadError) as caught:
        compile_profile(sd, "StructureDefinition-MV-Referral.json")
    assert caught.value.element == "ServiceRequest.authoredOn"
    assert "StructureDefinition-MV-Referral.json: ServiceRequest.authoredOn" in str(caught.value)


def test_a_slice_without_a_discriminator_value_names_the_slice() -> None:
    sd = referral_sd()
    del element(sd, "ServiceRequest.identifier:ubrn.system")["fixedUri"]
    with pytest.raises(ProfileLoadError) as caught:
        compile_profile(sd, "f.json")
    assert caught.value.element == "ServiceRequest.identifier:ubrn"


def test_an_unsupported_discriminator_is_refused() -> None:
    sd = referral_sd()
    element(sd, "ServiceRequest.identifier")["slicing"]["discriminator"] = [
        {"type": "profile", "path": "$this"}
    ]
    with pytest.raises(ProfileLoadError, match="'profile'"):
        compile_profile(sd, "f.json")


def test_an_invariant_the_engine_cannot_run_names_its_key() -> None:
    sd = referral_sd()
    root = element(sd, "ServiceRequest")
    broken = copy.deepcopy(root["constraint"][-1])
    broken["expression"] = "subject.resolve().conformsTo('https://example.org/p')"
    root["constraint"][-1] = broken
    with pytest.raises(ProfileLoadError, match="mv-ref-1"):
        compile_profile(sd, "f.json")


def test_a_slice_before_its_sliced_element_is_refused() -> None:
    sd = referral_sd()
    elements = sd["snapshot"]["element"]
    sd["snapshot"]["element"] = [e for e in elements if e["id"] != "ServiceRequest.identifier"]
    with pytest.raises(ProfileLoadError, match=r"ServiceRequest\.identifier:ubrn"):
        compile_profile(sd, "f.json")


def test_duplicate_profiles_are_refused(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "StructureDefinition-MV-Referral.json", tmp_path)
    shutil.copy(
        FIXTURES / "StructureDefinition-MV-Referral.json",
        tmp_path / "StructureDefinition-MV-Referral-copy.json",
    )
    with pytest.raises(ProfileLoadError, match="duplicate"):
        ProfileRegistry.from_directory(tmp_path)
