"""Index extraction: exact rows per value kind, and fhirpathpy as an oracle for the paths."""

from __future__ import annotations

import re
import timeit
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
import pytest

from app.model.fhir_json import loads
from app.search.extract import extract_index
from app.search.parameters import parameters_for
from app.search.paths import Branch
from app.search.values import OPEN_HIGH, OPEN_LOW
from tests.search import resources as res
from tests.search.resources import LOINC, UCUM

SNOMED = "http://snomed.info/sct"
US = 1_000_000
T_2026_11_03 = 1_793_664_000 * US  # 2026-11-03T00:00:00Z


def rows(resource: dict[str, Any], code: str, table: str | None = None) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for name, table_rows in extract_index(resource).rows.items():
        if table is None or name == table:
            out.extend(r for r in table_rows if r[0] == code)
    return out


# -- token -------------------------------------------------------------------------------------


def test_token_codeable_concept_coding_text_and_text_only() -> None:
    obs = res.observation_bp()
    assert rows(obs, "code") == [
        ("code", None, LOINC, "85354-9", "blood pressure"),
        ("code", None, SNOMED, "75367002", "blood pressure"),
    ]
    echo = res.observation_echo()
    assert rows(echo, "code") == [("code", None, SNOMED, "250908004", "lvef")]
    # CodeableConcept with text and no codings
    assert rows(res.practitioner(), "identifier") == [
        ("identifier", None, "https://fhir.hl7.org.uk/Id/gmc-number", "C1234567", None)
    ]


def test_token_coding_identifier_of_type_contact_code_boolean() -> None:
    enc = res.encounter()
    assert rows(enc, "class") == [
        (
            "class",
            None,
            "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "IMP",
            "inpatient encounter",
        )
    ]
    assert rows(enc, "identifier") == [
        ("identifier", None, "https://fhir.gstt.nhs.uk/Id/visit", "V-2026-1", "visit number")
    ]
    assert rows(enc, "identifier:of-type") == [
        (
            "identifier:of-type",
            None,
            "http://terminology.hl7.org/CodeSystem/v2-0203|VN",
            "V-2026-1",
            None,
        )
    ]
    prac = res.practitioner()
    assert rows(prac, "email") == [("email", None, None, "s.nibhriain@nhs.net", None)]
    assert rows(prac, "phone") == [("phone", None, None, "020 7188 7188", None)]
    assert rows(prac, "telecom") == [
        ("telecom", None, None, "s.nibhriain@nhs.net", None),
        ("telecom", None, None, "020 7188 7188", None),
    ]
    assert rows(prac, "gender") == [("gender", None, None, "female", None)]
    assert rows(prac, "active") == [("active", None, None, "true", None)]
    obs = res.observation_bp()
    assert rows(obs, "_tag") == [("_tag", None, "https://mitral.example/tags", "pathway", None)]
    text_only = res.observation_echo()
    text_only["code"] = {"text": "Ejection fraction"}
    assert rows(text_only, "code") == [("code", None, None, None, "ejection fraction")]


def test_deceased_token() -> None:
    alive, dead, *_ = res.all_resources()
    assert rows(alive, "deceased") == [("deceased", None, None, "false", None)]
    assert rows(dead, "deceased") == [("deceased", None, None, "true", None)]


# -- string ------------------------------------------------------------------------------------


def test_string_human_name_address_and_accents() -> None:
    prac = res.practitioner()
    assert rows(prac, "name") == [
        ("name", None, "ni bhriain", "Ní Bhriain"),
        ("name", None, "siobhan", "Siobhán"),
        ("name", None, "dr", "Dr"),
    ]
    assert rows(prac, "family") == [("family", None, "ni bhriain", "Ní Bhriain")]
    org = res.organization()
    assert rows(org, "address") == [
        ("address", None, "westminster bridge road", "Westminster Bridge Road"),
        ("address", None, "london", "London"),
        ("address", None, "se1 7eh", "SE1 7EH"),
    ]
    assert rows(org, "name") == [
        ("name", None, "guy's and st thomas' nhs foundation trust", org["name"]),
        ("name", None, "gstt", "GSTT"),
    ]
    zoe = res.all_resources()[-1]
    assert rows(zoe, "name") == [("name", None, "zoe bronte", "Zoë  Brontë")]


# -- date --------------------------------------------------------------------------------------


def test_dates_partial_offset_period_timing() -> None:
    pat = res.all_resources()[0]
    day = 86_400 * US
    (birth,) = rows(pat, "birthdate")
    assert birth[2:] == (-677_030_400 * US, -677_030_400 * US + day - 1, day - 1)  # 1948-07-19
    obs = res.observation_bp()
    # 2026-03-29T01:30+01:00 = 00:30Z, to the second
    start = 1_774_744_200 * US
    assert rows(obs, "date") == [("date", None, start, start + US - 1, US - 1)]
    echo = res.observation_echo()
    low = 1_775_001_600 * US  # 2026-04-01
    high = 1_775_124_000 * US + US - 1  # 2026-04-02T10:00:00Z to the second
    assert rows(echo, "date") == [("date", None, low, high, high - low)]
    cp = res.careplan()
    # open-ended: no span (the widest-span probe skips it)
    assert rows(cp, "date") == [("date", None, 1_790_812_800 * US, OPEN_HIGH, None)]
    nine = T_2026_11_03 + 9 * 3600 * US
    assert rows(cp, "activity-date") == [
        ("activity-date", None, nine, nine + 7 * day + US - 1, 7 * day + US - 1),
    ]
    cond = res.condition()
    (recorded,) = rows(cond, "recorded-date")
    assert recorded[2] == 1_788_220_800 * US  # 2026-09-01
    assert recorded[3] == 1_790_812_800 * US - 1  # end of September
    open_start = {"resourceType": "Encounter", "status": "planned", "period": {"end": "2026"}}
    assert rows(open_start, "date") == [("date", None, OPEN_LOW, 1_798_761_600 * US - 1, None)]


# -- reference ---------------------------------------------------------------------------------


def test_references_relative_absolute_identifier_contained_canonical() -> None:
    obs = res.observation_bp()
    assert rows(obs, "subject") == [("subject", None, "Patient", "pat-1", None, None, None, None)]
    assert rows(obs, "patient") == [("patient", None, "Patient", "pat-1", None, None, None, None)]
    assert rows(obs, "performer") == [
        ("performer", None, "Practitioner", "prac-1", None, None, None, None),
        (
            "performer",
            None,
            "Organization",
            "RJ1",
            None,
            "https://fhir.gstt.nhs.uk/fhir/Organization/RJ1",
            None,
            None,
        ),
    ]
    enc = res.encounter()
    assert rows(enc, "participant") == [
        ("participant", None, "Practitioner", "prac-1", None, None, None, None),
        ("participant", None, None, None, None, None, res.GMC, "C7654321"),
    ]
    assert rows(enc, "practitioner") == [
        ("practitioner", None, "Practitioner", "prac-1", None, None, None, None)
    ]
    cp = res.careplan()
    assert rows(cp, "goal") == []  # contained
    assert rows(cp, "instantiates-canonical") == [
        (
            "instantiates-canonical",
            None,
            "PlanDefinition",
            "teer",
            "2.1",
            "https://mitral.example/fhir/PlanDefinition/teer",
            None,
            None,
        )
    ]
    versioned = {"resourceType": "Provenance", "target": [{"reference": "Patient/p1/_history/3"}]}
    assert rows(versioned, "target") == [("target", None, "Patient", "p1", "3", None, None, None)]
    assert parameters_for("Observation")["subject"].targets  # reference targets are kept


# -- quantity, number, uri, composite ---------------------------------------------------------


def test_quantity_precision_ranges() -> None:
    echo = loads(orjson.dumps(res.observation_echo()).replace(b"5.4", b"5.40"))
    (row,) = rows(echo, "value-quantity")
    assert row[0:2] == ("value-quantity", None)
    assert row[2] == 5.4
    assert row[3] == pytest.approx(5.395) and row[4] == pytest.approx(5.405)
    assert row[5:] == (UCUM, "%", "%")
    plain = res.observation_echo()
    plain["valueQuantity"]["value"] = 5.4
    assert rows(plain, "value-quantity")[0][3:5] == (5.35, 5.45)
    enc = res.encounter()
    assert rows(enc, "length") == [("length", None, 3.0, 2.5, 3.5, UCUM, "d", "days")]


def test_number_and_uri() -> None:
    vs = res.all_resources()[12]
    assert rows(vs, "url") == [("url", None, "https://mitral.example/fhir/ValueSet/teer-outcomes")]
    assert rows(vs, "version") == [("version", None, None, "1.0", None)]
    risk = {
        "resourceType": "RiskAssessment",
        "status": "final",
        "subject": {},
        "prediction": [{"probabilityDecimal": 0.25}],
    }
    assert rows(risk, "probability") == [("probability", None, 0.25, 0.245, 0.255)]


def test_composite_groups() -> None:
    obs = res.observation_bp()
    codes = rows(obs, "component-code-value-quantity$0")
    values = rows(obs, "component-code-value-quantity$1")
    first, second = codes[0][1], codes[1][1]
    assert first != second
    assert codes == [
        ("component-code-value-quantity$0", first, LOINC, "8480-6", "systolic"),
        ("component-code-value-quantity$0", second, LOINC, "8462-4", "diastolic"),
    ]
    assert values == [
        ("component-code-value-quantity$1", first, 142.0, 141.5, 142.5, UCUM, "mm[Hg]", "mmHg"),
        ("component-code-value-quantity$1", second, 88.5, 88.45, 88.55, UCUM, "mm[Hg]", "mmHg"),
    ]
    groups = [r[1] for i in (0, 1) for r in rows(obs, f"combo-code-value-quantity${i}")]
    # the Observation itself (no value: code rows only) then each component
    assert len(set(groups)) == 3
    all_groups = [
        r[1] for table in extract_index(obs).rows.values() for r in table if r[1] is not None
    ]
    per_param: dict[int, set[str]] = {}
    for table in extract_index(obs).rows.values():
        for r in table:
            if r[1] is not None:
                per_param.setdefault(r[1], set()).add(r[0].rpartition("$")[0])
    assert all(len(p) == 1 for p in per_param.values()), "grp is unique within the resource"
    assert all_groups


def test_bundle_and_unknown_shapes_do_not_fail() -> None:
    for resource in res.all_resources():
        extract_index(resource)
    extract_index({"resourceType": "Observation", "code": "not-a-concept", "subject": [1, 2]})


# -- the oracle ------------------------------------------------------------------------------


def _collect(branch: Branch, resource: dict[str, Any]) -> list[Any]:
    out: list[Any] = []

    def keep(value: Any, _sink: Any, _grp: int | None) -> None:
        out.append(value)

    branch.compile(keep)(resource, None, None)
    return out


def _canon(value: Any) -> bytes:
    def default(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        return str(v)

    return orjson.dumps(value, default=default, option=orjson.OPT_SORT_KEYS)


def _oracle_expression(expression: str, resource_type: str) -> str:
    expression = re.sub(r"\b(Resource|DomainResource)\.", f"{resource_type}.", expression)
    # fhirpathpy has no resolve(): test the reference's type from its text instead.
    return re.sub(
        r"where\(resolve\(\) is (\w+)\)",
        r"where(reference.matches('(^|/)\1/[^/]+(/_history/[^/]+)?$'))",
        expression,
    )


@pytest.mark.parametrize("resource", res.all_resources(), ids=lambda r: r["resourceType"])
def test_paths_agree_with_fhirpathpy(resource: dict[str, Any]) -> None:
    fhirpathpy = pytest.importorskip("fhirpathpy")
    models = pytest.importorskip("fhirpathpy.models").models
    checked = 0
    for code, param in parameters_for(resource["resourceType"]).items():
        if not param.branches or param.type == "composite" or code == "deceased":
            continue
        ours = sorted(_canon(v) for b in param.branches for v in _collect(b, resource))
        expected = fhirpathpy.evaluate(
            resource,
            _oracle_expression(param.expression, resource["resourceType"]),
            {},
            models["r4"],
        )
        # values a choice variant reaches that the parameter cannot index are not compared
        theirs = sorted(_canon(v) for v in expected)
        assert ours == theirs, f"{resource['resourceType']}.{code}: {param.expression}"
        checked += 1
    assert checked > 5


def test_extraction_is_fast() -> None:
    """Best-of-several µs per resource (figures in docs/adr/0006); a generous ceiling here."""
    for resource in (res.observation_bp(), res.careplan(), res.all_resources()[0]):
        extract_index(resource)
        best = min(timeit.repeat(partial(extract_index, resource), number=200, repeat=5))
        assert best / 200 < 500e-6
