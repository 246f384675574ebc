"""Broken content fails at load, naming the file and the FHIRPath element of every problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.terminology.content import TerminologyContentError
from app.terminology.local import LocalTerminology

from .conftest import BROKEN

CASES = [
    (
        "map-target-absent.json",
        "conceptmaps",
        "ConceptMap.group[0].element[0].target[0].code",
        "'K25.9' is not in http://fhir.hl7.org.uk/CodeSystem/OPCS-4",
    ),
    (
        "map-source-absent.json",
        "conceptmaps",
        "ConceptMap.group[0].element[0].code",
        "'MVR-99' is not in https://fhir.southlondon-mitral.nhs.uk/CodeSystem/local-st-thomas",
    ),
    (
        "map-bad-equivalence.json",
        "conceptmaps",
        "ConceptMap.group[0].element[0].target[0].equivalence",
        "'same-as' is not one of",
    ),
    (
        "valueset-unknown-code.json",
        "valuesets",
        "ValueSet.compose.include[0].concept[1].code",
        "'99999999' is not in http://snomed.info/sct",
    ),
    (
        "valueset-unknown-filter-property.json",
        "valuesets",
        "ValueSet.compose.include[0].filter[0].property",
        "filter property 'severity' is not a property of http://snomed.info/sct",
    ),
    (
        "valueset-unknown-filter-concept.json",
        "valuesets",
        "ValueSet.compose.include[0].filter[0].value",
        "'404684003' is not in http://snomed.info/sct",
    ),
    (
        "valueset-unknown-import.json",
        "valuesets",
        "ValueSet.compose.include[0].valueSet[0]",
        "imports unknown ValueSet 'https://fhir.southlondon-mitral.nhs.uk/ValueSet/aortic-conditions'",
    ),
    ("missing-version.json", "codesystems", "CodeSystem.version", "'version' is required"),
    ("wrong-resource-type.json", "codesystems", "resourceType", "found 'NamingSystem'"),
    (
        "duplicate-url.json",
        "valuesets",
        "ValueSet.url",
        "ValueSet/nyha-class|1.0.0 is also defined in terminology/valuesets/",
    ),
    ("bad-filter-op.json", "valuesets", "ValueSet.compose.include[0].filter[0].op", "'below'"),
    ("hierarchy-cycle.json", "codesystems", "CodeSystem.concept[", "is-a cycle"),
    ("malformed.json", "codesystems", "(file)", "not valid JSON"),
]


@pytest.mark.parametrize(("name", "folder", "element", "message"), CASES)
def test_a_broken_file_fails_the_load_naming_file_and_element(
    content_dir: Path, name: str, folder: str, element: str, message: str
) -> None:
    shutil.copy(BROKEN / name, content_dir / folder / f"zz-{name}")

    with pytest.raises(TerminologyContentError) as caught:
        LocalTerminology.from_directory(content_dir)

    (problem,) = caught.value.problems
    assert problem.file == f"terminology/{folder}/zz-{name}"
    assert problem.element.startswith(element)
    assert message in problem.message
    assert str(caught.value).startswith(f"terminology/{folder}/zz-{name}: {element}")


def test_every_problem_of_a_load_is_reported_together(content_dir: Path) -> None:
    for name, folder in [
        ("map-target-absent.json", "conceptmaps"),
        ("valueset-unknown-code.json", "valuesets"),
        ("malformed.json", "codesystems"),
    ]:
        shutil.copy(BROKEN / name, content_dir / folder / name)

    with pytest.raises(TerminologyContentError) as caught:
        LocalTerminology.from_directory(content_dir)

    files = sorted(p.file for p in caught.value.problems)
    assert files == [
        "terminology/codesystems/malformed.json",
        "terminology/conceptmaps/map-target-absent.json",
        "terminology/valuesets/valueset-unknown-code.json",
    ]
    assert str(caught.value).startswith("3 problems in the terminology content:")


def test_one_file_with_several_problems_reports_each(content_dir: Path) -> None:
    path = content_dir / "conceptmaps" / "local-st-thomas.json"
    cm = json.loads(path.read_text())
    cm["group"][0]["element"][0]["code"] = "MVR-99"
    cm["group"][1]["element"][0]["target"][0]["code"] = "K25.9"
    path.write_text(json.dumps(cm))

    with pytest.raises(TerminologyContentError) as caught:
        LocalTerminology.from_directory(content_dir)

    assert [p.element for p in caught.value.problems] == [
        "ConceptMap.group[0].element[0].code",
        "ConceptMap.group[1].element[0].target[0].code",
    ]


def test_a_parent_property_naming_a_missing_code_is_an_error(content_dir: Path) -> None:
    path = content_dir / "codesystems" / "icd-10-uk.json"
    cs = json.loads(path.read_text())
    cs["concept"][1]["property"][0]["valueCode"] = "I35"
    path.write_text(json.dumps(cs))

    with pytest.raises(TerminologyContentError) as caught:
        LocalTerminology.from_directory(content_dir)

    (problem,) = caught.value.problems
    assert problem.element == "CodeSystem.concept[1].property"
    assert "parent 'I35' is not a code of this CodeSystem" in problem.message


def test_a_missing_directory_is_a_content_error(tmp_path: Path) -> None:
    with pytest.raises(TerminologyContentError, match="is not a directory"):
        LocalTerminology.from_directory(tmp_path / "terminology")


def test_resources_are_every_loaded_resource_as_copies(content_dir: Path) -> None:
    terminology = LocalTerminology.from_directory(content_dir)

    resources = terminology.resources()
    kinds = sorted({r["resourceType"] for r in resources})
    assert kinds == ["CodeSystem", "ConceptMap", "ValueSet"]
    assert len(resources) == len(list(content_dir.rglob("*.json")))
    resources[0]["url"] = "changed"
    assert terminology.resources()[0]["url"] != "changed"
    assert all(r["id"] for r in terminology.resources())


def test_a_value_set_importing_a_broken_one_points_at_its_import(content_dir: Path) -> None:
    shutil.copy(BROKEN / "valueset-unknown-code.json", content_dir / "valuesets" / "broken.json")
    importer = {
        "resourceType": "ValueSet",
        "url": "https://fhir.southlondon-mitral.nhs.uk/ValueSet/imports-broken",
        "version": "1.0.0",
        "status": "draft",
        "compose": {
            "include": [{"valueSet": ["https://fhir.southlondon-mitral.nhs.uk/ValueSet/broken"]}]
        },
    }
    (content_dir / "valuesets" / "imports-broken.json").write_text(json.dumps(importer))

    with pytest.raises(TerminologyContentError) as caught:
        LocalTerminology.from_directory(content_dir)

    by_file = {p.file: p for p in caught.value.problems}
    assert by_file["terminology/valuesets/broken.json"].element == (
        "ValueSet.compose.include[0].concept[1].code"
    )
    importing = by_file["terminology/valuesets/imports-broken.json"]
    assert importing.element == "ValueSet.compose.include[0].valueSet[0]"
    assert "cannot be expanded: '99999999' is not in http://snomed.info/sct" in importing.message


def test_value_sets_importing_each_other_are_a_cycle(content_dir: Path) -> None:
    base = "https://fhir.southlondon-mitral.nhs.uk/ValueSet"
    for name, other in [("cycle-a", "cycle-b"), ("cycle-b", "cycle-a")]:
        vs = {
            "resourceType": "ValueSet",
            "url": f"{base}/{name}",
            "version": "1.0.0",
            "status": "draft",
            "compose": {"include": [{"valueSet": [f"{base}/{other}"]}]},
        }
        (content_dir / "valuesets" / f"{name}.json").write_text(json.dumps(vs))

    with pytest.raises(TerminologyContentError) as caught:
        LocalTerminology.from_directory(content_dir)

    assert sorted(p.file for p in caught.value.problems) == [
        "terminology/valuesets/cycle-a.json",
        "terminology/valuesets/cycle-b.json",
    ]
    assert all("ValueSet import cycle" in p.message for p in caught.value.problems)
