"""The R4 vital signs profiles, which bind every Observation that records a vital sign.

R4 observation.html "Vital Signs" and observation-vitalsigns.html: the 15 vital signs
(panel, respiratory rate, heart rate, oxygen saturation, body temperature, body height, head
circumference, body weight, BMI, blood pressure with systolic and diastolic components) each
have a LOINC code, and "if implementations use this code, they SHALL conform to the profile".
When "a more specific code is recorded [method specific LOINC codes, SNOMED CT concepts...],
the generic code and the translated coded value must be sent", so an Observation coded with
such a code (body temperature as SNOMED CT 276885007, systolic pressure by a non-invasive
method as LOINC 76534-7...) is held to the same profile, as the HL7 Java validator does.

What the profiles require, checked here:

* ``code`` carries the generic LOINC code of the vital sign (the profile's code slice);
* ``category`` has the coding ``observation-category#vital-signs`` (VSCat, 1..1);
* ``subject`` (1..1) and ``effective[x]`` (1..1, dateTime or Period; vs-1: a dateTime is
  precise to the day at least);
* a value is a Quantity with ``value``, ``unit``, ``system`` = UCUM and ``code`` one of the
  vital sign's units (``Cel``/``[degF]``, ``/min``, ``%``, ``cm``/``[in_i]``,
  ``kg``/``g``/``[lb_av]``, ``kg/m2``, ``mm[Hg]``);
* vs-2: without component or hasMember, a value or a dataAbsentReason;
* blood pressure: a systolic (8480-6) and a diastolic (8462-4) component, each with a
  ``mm[Hg]`` Quantity or a dataAbsentReason (vs-3).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from app.errors import Issue
from app.validation.walk import Node

__all__ = ["VITAL_SIGNS", "VitalSign", "vital_sign_issues"]

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
CATEGORY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
SYSTOLIC: Final = "8480-6"
DIASTOLIC: Final = "8462-4"
BP_UNITS: Final = frozenset({"mm[Hg]"})


@dataclass(frozen=True, slots=True)
class VitalSign:
    name: str
    profile: str
    loinc: str  # the generic code the profile requires
    units: frozenset[str]  # the UCUM codes of the value; empty: the profile sets no value
    # More specific codes of the same measurement (LOINC method or site variants, SNOMED CT)
    other_loinc: frozenset[str] = frozenset()
    snomed: frozenset[str] = frozenset()


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BASE: Final = "http://hl7.org/fhir/StructureDefinition/"
# In the order the codes are matched: LOINC codes first, then SNOMED CT concepts.
VITAL_SIGNS: Final[tuple[VitalSign, ...]] = (
    VitalSign("Vital Signs Panel", _BASE + "vitalspanel", "85353-1", frozenset(),
              snomed=_codes("46680005")),
    VitalSign("Respiratory rate", _BASE + "resprate", "9279-1", frozenset({"/min"}),
              _codes("76170-0 76172-6 76171-8 19840-8 33438-3 76270-8 11291-2"),
              _codes("86290005 271625008")),
    VitalSign("Heart rate", _BASE + "heartrate", "8867-4", frozenset({"/min"}),
              _codes("60978-4 73795-7 73799-9 76476-1 76477-9 8889-8 8890-6 8891-4 8892-2"
                     " 8893-0 40443-4 55425-3 68999-2 11328-2 69000-8 8886-4"),
              _codes("249043002 444981005 399017001 251670001 429525003 429614003")),
    VitalSign("Oxygen saturation", _BASE + "oxygensat", "2708-6", frozenset({"%"}),
              _codes("19224-5 20564-1 2709-4 2710-2 2711-0 2713-6 51733-4 59408-5 59417-6"
                     " 89276-0 97549-0"),
              _codes("103228002 442349007 442476006 442440005 431314004 442734002 713194001")),
    VitalSign("Body temperature", _BASE + "bodytemp", "8310-5", frozenset({"Cel", "[degF]"}),
              _codes("60834-9 60835-6 60836-4 60838-0 60955-2 61009-7 75539-7 75987-8 76010-8"
                     " 76011-6 76278-1 8309-7 8328-7 8329-5 8330-3 8331-1 8332-9 8333-7 8334-5"
                     " 91371-5 98657-0 98663-8"),
              _codes("386725007 276885007 300076005 1222808002 364246006 307047009 708499008"
                     " 431598003 698831002 698832009 415882003 415974002 415929009 415945006")),
    VitalSign("Body height", _BASE + "bodyheight", "8302-2", frozenset({"cm", "[in_i]"}),
              _codes("3137-7 3138-5 8306-3 8308-9"),
              _codes("1153637007 1162419008 50373000 1162418000 1230278008 1162392001"
                     " 1162417005")),
    VitalSign("Head circumference", _BASE + "headcircum", "9843-4", frozenset({"cm", "[in_i]"}),
              _codes("8287-5"), _codes("363812007 169876006 1269262007")),
    VitalSign("Body weight", _BASE + "bodyweight", "29463-7",
              frozenset({"kg", "g", "[lb_av]"}),
              _codes("3141-9 3142-7 75292-3 79348-9 8350-1 8351-9"),
              _codes("735395000 425024002 424927000 784399000 1162416001"
                     " 1162415002")),
    VitalSign("Body mass index", _BASE + "bmi", "39156-5", frozenset({"kg/m2"}),
              _codes("59574-4 89270-3"), _codes("60621009")),
    VitalSign("Blood pressure", _BASE + "bp", "85354-9", frozenset(),
              _codes("35094-2 8459-0 76534-7 55284-4 8480-6"),
              _codes("75367002 251076008 163033001 163035008 386534000 386536003 271649006"
                     " 271650006 407556006 407554009 716579001 399304008")),
)  # fmt: skip

_EFFECTIVE: Final = ("effectiveDateTime", "effectivePeriod")
_OTHER_EFFECTIVE: Final = ("effectiveTiming", "effectiveInstant")


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if type(item) is dict] if type(value) is list else []


def _codings(concept: Any) -> list[tuple[Any, Any]]:
    if type(concept) is not dict:
        return []
    return [(c.get("system"), c.get("code")) for c in _list(concept.get("coding"))]


def vital_sign_of(observation: dict[str, Any]) -> VitalSign | None:
    """The vital sign whose profile binds ``observation``, from its code (None if none)."""
    codings = _codings(observation.get("code"))
    for system, field in ((LOINC, "loinc"), (SNOMED, "snomed")):
        codes = {code for sys, code in codings if sys == system and type(code) is str}
        if not codes:
            continue
        for sign in VITAL_SIGNS:
            known = {sign.loinc} | sign.other_loinc if field == "loinc" else sign.snomed
            if codes & known:
                return sign
    return None


def _error(where: str, text: str, code: str = "invariant") -> Issue:
    return Issue("error", code, f"{where}: {text}", (where,))


def _quantity(value: Any, where: str, units: frozenset[str], sign: VitalSign) -> Iterator[Issue]:
    """A vital sign value: a Quantity with value, unit, UCUM system and one of ``units``."""
    if type(value) is not dict:
        return
    profile = f"(profile {sign.profile})"
    for key in ("value", "unit", "system", "code"):
        if key not in value:
            yield _error(where, f"a {sign.name} value must have a {key} {profile}")
    system, code = value.get("system"), value.get("code")
    if type(system) is str and system != UCUM:
        yield _error(f"{where}.system", f"the unit system must be {UCUM} {profile}")
    elif type(code) is str and code not in units:
        allowed = " or ".join(f"'{u}'" for u in sorted(units))
        text = f"the unit of a {sign.name} must be {allowed}, not '{code}' {profile}"
        yield _error(f"{where}.code", text, "code-invalid")


def _value_issues(obs: dict[str, Any], path: str, sign: VitalSign) -> Iterator[Issue]:
    others = sorted(k for k in obs if k.startswith("value") and k != "valueQuantity")
    for key in others:
        text = f"the value of a {sign.name} must be a Quantity, not {key[5:]} ({sign.profile})"
        yield _error(f"{path}.value.ofType({key[5:]})", text, "structure")
    if sign.units:
        where = f"{path}.value.ofType(Quantity)"
        yield from _quantity(obs.get("valueQuantity"), where, sign.units, sign)


def _blood_pressure(obs: dict[str, Any], path: str, sign: VitalSign) -> Iterator[Issue]:
    components = _list(obs.get("component"))
    for loinc, label in ((SYSTOLIC, "systolic"), (DIASTOLIC, "diastolic")):
        found = [
            (i, c) for i, c in enumerate(components) if (LOINC, loinc) in _codings(c.get("code"))
        ]
        if not found:
            text = f"a blood pressure needs a {label} component (LOINC {loinc}) ({sign.profile})"
            yield _error(f"{path}.component", text, "required")
        for index, component in found:
            where = f"{path}.component[{index}]"
            for key in sorted(k for k in component if k.startswith("value")):
                if key != "valueQuantity":
                    text = f"the {label} value must be a Quantity, not {key[5:]}"
                    yield _error(f"{where}.value.ofType({key[5:]})", text, "structure")
            quantity = component.get("valueQuantity")
            if quantity is not None:
                qsign = VitalSign(f"{label} blood pressure", sign.profile, loinc, BP_UNITS)
                yield from _quantity(quantity, f"{where}.value.ofType(Quantity)", BP_UNITS, qsign)


def _effective_issues(obs: dict[str, Any], path: str, sign: VitalSign) -> Iterator[Issue]:
    """effective[x]: present, a dateTime (precise to the day, vs-1) or a Period."""
    profile = f"({sign.profile})"
    for key in _OTHER_EFFECTIVE:
        if key in obs:
            text = f"the effective time of a {sign.name} is a dateTime or a Period {profile}"
            yield _error(f"{path}.effective.ofType({key[9:]})", text, "structure")
    if not any(key in obs for key in _EFFECTIVE + _OTHER_EFFECTIVE):
        text = f"a {sign.name} Observation must have an effective time {profile}"
        yield _error(path, text, "required")
    when = obs.get("effectiveDateTime")
    if type(when) is str and len(when) < 10:
        text = f"vs-1: the effective dateTime must be precise to the day at least {profile}"
        yield _error(f"{path}.effective.ofType(dateTime)", text)


def vital_sign_issues(node: Node) -> Iterator[Issue]:
    """The vital signs profile violations of one Observation node (none if it records no
    vital sign)."""
    obs, path = node.obj, node.path
    sign = vital_sign_of(obs)
    if sign is None:
        return
    profile = f"({sign.profile})"
    if (LOINC, sign.loinc) not in _codings(obs.get("code")):
        text = f"a {sign.name} Observation must carry the LOINC code {sign.loinc} {profile}"
        yield _error(f"{path}.code", text, "required")
    categories = [c for cat in _list(obs.get("category")) for c in _codings(cat)]
    if (CATEGORY_SYSTEM, "vital-signs") not in categories:
        text = f"a {sign.name} Observation must have the category 'vital-signs' {profile}"
        yield _error(f"{path}.category", text, "required")
    if "subject" not in obs:
        yield _error(path, f"a {sign.name} Observation must have a subject {profile}", "required")
    yield from _effective_issues(obs, path, sign)
    yield from _value_issues(obs, path, sign)
    has_value = any(k.startswith("value") for k in obs) or "dataAbsentReason" in obs
    if "component" not in obs and "hasMember" not in obs and not has_value:
        text = f"vs-2: without components or members, a value or a dataAbsentReason {profile}"
        yield _error(path, text)
    for index, component in enumerate(_list(obs.get("component"))):
        if not any(k.startswith("value") for k in component) and (
            "dataAbsentReason" not in component
        ):
            text = "vs-3: a component without a value must have a dataAbsentReason"
            yield _error(f"{path}.component[{index}]", text)
    if sign.loinc == "85354-9":
        yield from _blood_pressure(obs, path, sign)
