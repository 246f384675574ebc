"""The mapping engine through its public surface: a spec file loaded from disk, records mapped.

The spec here is a cut-down King's REF^I12 mapping; the messages are real-looking v2.4 text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ingest.hl7v2.parse import parse_message
from app.ingest.mapping.codes import centre_terminology
from app.ingest.mapping.engine import Mapper, resource_id
from app.ingest.mapping.spec import SpecError, load_spec
from app.terminology.local import LocalTerminology
from tests.ingest.feed_messages import SPEC, referral

REPO = Path(__file__).resolve().parents[3]

NHS = "9434765919"


def message(
    *,
    nhs: str = NHS,
    received: str = "20260329013000",
    reason: str = "52010",
    msh12: str = "2.4",
    extra: str = "",
) -> bytes:
    text = referral(123, nhs=nhs, received=received, reason=reason, version=msh12, extra=extra)
    return text.encode()


@pytest.fixture(scope="module")
def mapper(tmp_path_factory: pytest.TempPathFactory) -> Mapper:
    path = tmp_path_factory.mktemp("mappings") / "kings.yaml"
    path.write_text(SPEC)
    spec = load_spec(path)
    local = LocalTerminology.from_directory(REPO / "terminology")
    return Mapper(spec, centre_terminology(spec, local))


def test_a_referral_maps_to_a_regional_patient_and_a_service_request(mapper: Mapper) -> None:
    out = mapper.map_record(parse_message(message()))
    assert out.errors == []
    patient, referral = out.resources
    assert patient["id"] == resource_id("kings", "Patient", "nhs-number", ["9434765919"])
    assert patient["identifier"][1] == {
        "system": "https://fhir.kch.nhs.uk/Id/mrn",
        "value": "K0000123",
    }
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1948-03-14"
    assert referral["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert referral["requester"]["reference"] == (
        f"Organization/{resource_id('kings', 'Organization', 'ods', ['G85011'])}"
    )
    assert referral["reasonCode"][0]["coding"] == [
        {
            "system": "http://snomed.info/sct",
            "code": "48724000",
            "display": "Mitral valve regurgitation",
        }
    ]


def test_a_time_without_offset_takes_the_centres_zone_across_dst(mapper: Mapper) -> None:
    winter = mapper.map_record(parse_message(message(received="20260328233000"))).resources[1]
    summer = mapper.map_record(parse_message(message(received="20260329103000"))).resources[1]
    assert winter["authoredOn"] == "2026-03-28T23:30:00+00:00"
    assert summer["authoredOn"] == "2026-03-29T10:30:00+01:00"


def test_same_message_same_ids_so_reingest_is_idempotent(mapper: Mapper) -> None:
    first = mapper.map_record(parse_message(message()))
    again = mapper.map_record(parse_message(message()))
    assert first.resources == again.resources


def test_an_invalid_nhs_number_is_an_error_naming_the_field(mapper: Mapper) -> None:
    out = mapper.map_record(parse_message(message(nhs="9434765918")))
    text = " ".join(i.diagnostics for i in out.errors)
    assert "PID-3.1" in text and "check digit" in text


def test_an_unmapped_local_code_fails_loudly(mapper: Mapper) -> None:
    # 71001 "Valve clinic" exists locally but the ConceptMap leaves it unmatched in SNOMED CT.
    out = mapper.map_record(parse_message(message(reason="71001")))
    assert any(
        "DG1-3.1" in i.diagnostics and "no http://snomed.info/sct code" in i.diagnostics
        for i in out.errors
    )
    unknown = mapper.map_record(parse_message(message(reason="99999")))
    assert any("'99999' is not a kings local code" in i.diagnostics for i in unknown.errors)


def test_an_invalid_date_names_the_field(mapper: Mapper) -> None:
    out = mapper.map_record(parse_message(message(received="20261341")))
    assert any(i.diagnostics.startswith("RF1-7 (message KCH00000123)") for i in out.errors)
    assert out.errors[0].expression == ("ServiceRequest.authoredOn",)


def test_wrong_version_and_unmapped_message_type_are_not_supported(mapper: Mapper) -> None:
    out = mapper.map_record(parse_message(message(msh12="2.3")))
    assert out.errors[0].code == "not-supported" and "'2.3'" in out.errors[0].diagnostics
    adt = message().replace(b"REF^I12^REF_I12", b"ADT^A04^ADT_A01")
    out = mapper.map_record(parse_message(adt))
    assert "message type 'ADT^A04' is not mapped for kings" in out.errors[0].diagnostics


def test_parts_neither_mapped_nor_ignored_are_reported(mapper: Mapper) -> None:
    out = mapper.map_record(parse_message(message(extra="ZKC|1|DISCUSSED")))
    assert out.errors == []
    assert len(out.warnings) == 1
    assert out.warnings[0].diagnostics.endswith("kings.yaml: ZKC-1, ZKC-2")


@pytest.mark.parametrize(
    ("change", "message_part"),
    [
        ("source: hl7v2", "unknown keys"),
        ("subject: {ref: patient}", "names no alias"),
        ("timezone: Europe/London", "unknown time zone"),
        ("centre: kings", "must match the file name"),
    ],
)
def test_a_broken_spec_fails_to_load_naming_the_place(
    tmp_path: Path, change: str, message_part: str
) -> None:
    broken = {
        "source: hl7v2": SPEC.replace(
            "birthDate: {from: PID-7, as: date}",
            "birthDate: {from: PID-7, as: date, bogus: 1}",
        ),
        "subject: {ref: patient}": SPEC.replace("subject: {ref: patient}", "subject: {ref: pat}"),
        "timezone: Europe/London": SPEC.replace(
            "source: hl7v2", "source: hl7v2\ntimezone: Mars/Base"
        ),
        "centre: kings": SPEC,
    }[change]
    name = "barts.yaml" if change == "centre: kings" else "kings.yaml"
    path = tmp_path / name
    path.write_text(broken)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert message_part in str(caught.value)
    assert str(path) in str(caught.value)
