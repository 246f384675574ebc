"""Hand-compiled Python for our own profile invariants (mv-nhs-1, mv-ref-1, mv-echo-1/2,
mv-proc-1).

fhirpathpy costs 0.1-1 ms per evaluation (mv-nhs-1, with its twenty `substring().toInteger()`
calls, about 1 ms), which alone would break the validation budget. Each rule here is keyed by
its constraint key and its exact expression (whitespace-normalised), as `invariant_rules.py`
does for the base rules: a profile that changes the expression falls back to fhirpathpy,
so the Python can never silently drift from the published StructureDefinition.
`tests/validation/test_profiles_rules.py` proves each equal to fhirpathpy on examples,
including FHIRPath's empty-means-holds cases (a Quantity without a system, say).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

from app.model.nhs_number import is_valid
from app.validation.invariant_rules import Check
from app.validation.walk import Node

__all__ = ["PROFILE_RULES"]

NHS_NUMBER: Final = "https://fhir.nhs.uk/Id/nhs-number"
UBRN: Final = "https://fhir.nhs.uk/Id/UBRN"
UCUM: Final = "http://unitsofmeasure.org"
SNOMED: Final = "http://snomed.info/sct"
OPCS_4: Final = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
# fhirpathpy's `matches`: re.search with DOTALL.
_TEN_DIGITS: Final = re.compile("^[0-9]{10}$", re.DOTALL)
_CENTRE_REFERRAL: Final = re.compile(r"^https://fhir\.[a-z0-9-]+\.nhs\.uk/Id/referral$", re.DOTALL)

_NHS_1: Final = (
    "system != 'https://fhir.nhs.uk/Id/nhs-number' or (value.matches('^[0-9]{10}$') and "
    "(11 - (value.substring(0, 1).toInteger() * 10 + value.substring(1, 1).toInteger() * 9 + "
    "value.substring(2, 1).toInteger() * 8 + value.substring(3, 1).toInteger() * 7 + "
    "value.substring(4, 1).toInteger() * 6 + value.substring(5, 1).toInteger() * 5 + "
    "value.substring(6, 1).toInteger() * 4 + value.substring(7, 1).toInteger() * 3 + "
    "value.substring(8, 1).toInteger() * 2) mod 11) mod 11 = value.substring(9, 1).toInteger())"
)
_REF_1: Final = (
    "identifier.where(system = 'https://fhir.nhs.uk/Id/UBRN' or "
    "system.matches('^https://fhir\\\\.[a-z0-9-]+\\\\.nhs\\\\.uk/Id/referral$')).exists()"
)
_ECHO_1: Final = (
    "value.ofType(Quantity).exists() implies (value.ofType(Quantity).system = "
    "'http://unitsofmeasure.org' and value.ofType(Quantity).code.exists() and "
    "value.ofType(Quantity).value.exists())"
)
_ECHO_2: Final = (
    "code.coding.where(system = 'http://snomed.info/sct' and code = '48724000').exists() "
    "implies value.ofType(CodeableConcept).exists()"
)
_PROC_1: Final = (
    "coding.where((system = 'http://snomed.info/sct' or "
    "system = 'http://fhir.hl7.org.uk/CodeSystem/OPCS-4') and code.exists()).exists()"
)


def _nhs_number(value: Any, _node: Node) -> bool:
    """Only a present NHS-number system with a present value can fail (else true or empty)."""
    if type(value) is not dict or value.get("system") != NHS_NUMBER:
        return True
    number = value.get("value")
    if type(number) is not str:
        return True  # `matches` on nothing is empty: the whole `and` is empty or false
    return _valid_nhs_number(number)


@lru_cache(maxsize=4096)
def _valid_nhs_number(number: str) -> bool:
    """Remembered: a feed sends the same patient's number in message after message."""
    return _TEN_DIGITS.search(number) is not None and is_valid(number)


def _referral_identifier(value: Any, _node: Node) -> bool:
    identifiers = value.get("identifier") if type(value) is dict else None
    for identifier in identifiers if type(identifiers) is list else ():
        system = identifier.get("system") if type(identifier) is dict else None
        if type(system) is str and (system == UBRN or _CENTRE_REFERRAL.search(system)):
            return True
    return False


def _ucum_quantity(value: Any, _node: Node) -> bool:
    quantity = value.get("valueQuantity") if type(value) is dict else None
    if type(quantity) is not dict:
        return True
    if "code" not in quantity or "value" not in quantity:
        return False
    system = quantity.get("system")
    return system is None or system == UCUM  # no system: `=` is empty, so is the implies


def _coded_severity(value: Any, _node: Node) -> bool:
    code = value.get("code") if type(value) is dict else None
    codings = code.get("coding") if type(code) is dict else None
    for coding in codings if type(codings) is list else ():
        if type(coding) is dict and (coding.get("system"), coding.get("code")) == (
            SNOMED,
            "48724000",
        ):
            return "valueCodeableConcept" in value
    return True


def _present(obj: dict[str, Any], name: str) -> bool:
    """FHIRPath `exists()` on a primitive: a value, or only its `_name` extensions/id."""
    value = obj.get(name)
    return (value is not None and value != []) or obj.get(f"_{name}") is not None


def _classified_procedure_code(value: Any, _node: Node) -> bool:
    """A SNOMED CT or OPCS-4 coding with a code; `exists()` is never empty, so no third case."""
    codings = value.get("coding") if type(value) is dict else None
    for coding in codings if type(codings) is list else [codings]:
        if (
            type(coding) is dict
            and coding.get("system") in (SNOMED, OPCS_4)
            and _present(coding, "code")
        ):
            return True
    return False


PROFILE_RULES: Final[dict[tuple[str, str], Check]] = {
    ("mv-nhs-1", _NHS_1): _nhs_number,
    ("mv-ref-1", _REF_1): _referral_identifier,
    ("mv-echo-1", _ECHO_1): _ucum_quantity,
    ("mv-echo-2", _ECHO_2): _coded_severity,
    ("mv-proc-1", _PROC_1): _classified_procedure_code,
}
