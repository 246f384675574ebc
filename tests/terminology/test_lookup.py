"""CodeSystem/$lookup and $subsumes over nested and ``parent``-property hierarchies."""

from __future__ import annotations

import re

import pytest

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.local import LocalTerminology
from app.terminology.service import Coding, LookupRequest, Property, SubsumesRequest

from .conftest import BASE, ICD10, OPCS4, SCT, ST_THOMAS


def test_lookup_gives_display_designations_properties_and_children(
    terminology: LocalTerminology,
) -> None:
    result = terminology.lookup_sync(LookupRequest(system=SCT, code="421518007"))

    assert result.name == "SnomedCtSubset"
    assert result.version == "http://snomed.info/sct/83821000000107"
    assert result.display == "New York Heart Association classification"
    assert Property("verification", "code", "verified") in result.properties
    children = [p.value for p in result.properties if p.code == "child"]
    assert children == ["420300004", "421704003", "420913000", "422293003"]


def test_lookup_of_a_child_names_its_parent(terminology: LocalTerminology) -> None:
    nested = terminology.lookup_sync(LookupRequest(coding=Coding(OPCS4, "K35.8")))
    by_property = terminology.lookup_sync(LookupRequest(system=ICD10, code="I34.0"))

    assert [p.value for p in nested.properties if p.code == "parent"] == ["K35"]
    assert [p.value for p in by_property.properties if p.code == "parent"] == ["I34"]
    parent = terminology.lookup_sync(LookupRequest(system=ICD10, code="I34"))
    assert [p.value for p in parent.properties if p.code == "child"] == ["I34.0", "I34.1"]


def test_lookup_designations_and_the_property_filter(terminology: LocalTerminology) -> None:
    full = terminology.lookup_sync(LookupRequest(system=SCT, code="48724000"))
    only_source = terminology.lookup_sync(
        LookupRequest(system=SCT, code="48724000", properties=("source",))
    )

    assert [d.value for d in full.designations] == ["Mitral regurgitation"]
    assert only_source.designations == ()
    assert only_source.properties == (Property("source", "string", "NICE IPG309"),)


def test_lookup_of_an_unverified_code_says_so(terminology: LocalTerminology) -> None:
    result = terminology.lookup_sync(
        LookupRequest(system=SCT, code="255604002", properties=("verification",))
    )

    assert result.properties == (Property("verification", "code", "unverified"),)


def test_lookup_reports_inactive(terminology: LocalTerminology) -> None:
    result = terminology.lookup_sync(LookupRequest(system=ST_THOMAS, code="REF-OLD"))

    assert Property("inactive", "boolean", True) in result.properties


def test_lookup_pins_a_version(terminology: LocalTerminology) -> None:
    assert terminology.lookup_sync(LookupRequest(system=ICD10, code="I34.0")).version == "5.0"
    old = terminology.lookup_sync(LookupRequest(system=ICD10, code="I34.0", version="4.0"))
    assert old.version == "4.0"
    with pytest.raises(ResourceNotFound, match=re.escape("Unable to find code 'I34.1'")):
        terminology.lookup_sync(LookupRequest(system=ICD10, code="I34.1", version="4.0"))


@pytest.mark.parametrize(
    ("request_", "error", "parameter", "message"),
    [
        (LookupRequest(system=SCT), InvalidRequest, "code", "A code (or coding) is required"),
        (LookupRequest(code="48724000"), InvalidRequest, "system", "A system is required"),
        (
            LookupRequest(system="http://hl7.org/fhir/sid/icd-10", code="I34.0"),
            ResourceNotFound,
            "system",
            "Unknown code system 'http://hl7.org/fhir/sid/icd-10'",
        ),
        (
            LookupRequest(system=ICD10, code="48724000"),
            ResourceNotFound,
            "code",
            "Unable to find code '48724000' in http://hl7.org/fhir/sid/icd-10-uk",
        ),
    ],
)
def test_lookup_bad_input(
    terminology: LocalTerminology,
    request_: LookupRequest,
    error: type[Exception],
    parameter: str,
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        terminology.lookup_sync(request_)

    assert isinstance(caught.value, InvalidRequest | ResourceNotFound)
    assert caught.value.diagnostics == message
    assert caught.value.expression == (parameter,)


async def test_lookup_async(terminology: LocalTerminology) -> None:
    result = await terminology.lookup(LookupRequest(system=ICD10, code="I36.1"))

    assert result.display == "Nonrheumatic tricuspid (valve) insufficiency"


@pytest.mark.parametrize(
    ("system", "a", "b", "outcome"),
    [
        (SCT, "421518007", "422293003", "subsumes"),
        (SCT, "420300004", "421518007", "subsumed-by"),
        (SCT, "420300004", "420300004", "equivalent"),
        (SCT, "420300004", "421704003", "not-subsumed"),
        (ICD10, "I34", "I34.1", "subsumes"),
        (ICD10, "I34", "I36.1", "not-subsumed"),
    ],
)
async def test_subsumes(
    terminology: LocalTerminology, system: str, a: str, b: str, outcome: str
) -> None:
    assert terminology.subsumes_sync(SubsumesRequest(system=system, code_a=a, code_b=b)) == outcome
    assert (
        await terminology.subsumes(
            SubsumesRequest(coding_a=Coding(system, a), coding_b=Coding(system, b))
        )
        == outcome
    )


def test_subsumes_bad_input(terminology: LocalTerminology) -> None:
    with pytest.raises(ResourceNotFound, match="Unable to find code '99999999'") as missing:
        terminology.subsumes_sync(
            SubsumesRequest(system=SCT, code_a="421518007", code_b="99999999")
        )
    assert missing.value.expression == ("codeB",)
    with pytest.raises(InvalidRequest) as no_system:
        terminology.subsumes_sync(SubsumesRequest(code_a="421518007", code_b="420300004"))
    assert no_system.value.expression == ("system",)
    with pytest.raises(InvalidRequest) as no_b:
        terminology.subsumes_sync(SubsumesRequest(system=SCT, code_a="421518007"))
    assert no_b.value.expression == ("codeB",)
    with pytest.raises(InvalidRequest, match=re.escape(f"codingB is from {ICD10}")):
        terminology.subsumes_sync(
            SubsumesRequest(coding_a=Coding(SCT, "48724000"), coding_b=Coding(ICD10, "I34.0"))
        )
    with pytest.raises(ResourceNotFound, match="Unknown code system"):
        terminology.subsumes_sync(
            SubsumesRequest(system=f"{BASE}/CodeSystem/nope", code_a="a", code_b="b")
        )
