"""ValueSet rules the HL7 Java validator applies beyond the FHIRPath invariants.

* ``compose.include.system`` / ``exclude.system`` are absolute (a contained code system is
  named by its canonical URL, valueset.html).
* The SNOMED CT codes a ValueSet names (concepts, ``concept`` filters) are SCTIDs (`sctid`),
  and a ``constraint`` filter is ECL (`ecl`, the simple forms).
* A filter value computed from a value set parameter (the HL7 tools extension
  ``valueset-parameter`` with a ``cqf-expression`` on the filter value) is FHIRPath
  (``text/fhirpath``), parses, and uses only the parameters the ValueSet declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from app.errors import Issue
from app.validation.ecl import ecl_problem
from app.validation.invariants import UnsupportedConstraint, check_syntax
from app.validation.sctid import sctid_problem
from app.validation.walk import Node

__all__ = ["value_set_issues"]

SNOMED: Final = "http://snomed.info/sct"
_ABSOLUTE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S")
_CONCEPT_OPS: Final = frozenset({"=", "is-a", "descendent-of", "is-not-a", "generalizes"})
_PARAMETER: Final = "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter"
_EXPRESSION: Final = "http://hl7.org/fhir/StructureDefinition/cqf-expression"
# %names as the parameters are written (FHIR codes, hyphens allowed: %p-inactive)
_VARIABLE: Final = re.compile(r"%([A-Za-z][A-Za-z0-9_-]*)")
_STANDARD_VARIABLES: Final = frozenset(
    {"resource", "rootResource", "context", "ucum", "sct", "loinc", "terminologies", "server"}
)


def _error(code: str, where: str, text: str) -> Issue:
    return Issue("error", code, f"{where}: {text}", (where,))


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if type(value) is not list:
        return []
    return [(i, item) for i, item in enumerate(value) if type(item) is dict]


def _parameters(value_set: dict[str, Any]) -> set[str]:
    names = set()
    for _, ext in _items(value_set.get("extension")):
        if ext.get("url") == _PARAMETER:
            for _, part in _items(ext.get("extension")):
                if part.get("url") == "name" and type(part.get("valueCode")) is str:
                    names.add(part["valueCode"])
    return names


def _filter_expressions(item: dict[str, Any], where: str, declared: set[str]) -> Iterator[Issue]:
    for index, flt in _items(item.get("filter")):
        value_element = flt.get("_value")
        extensions = value_element.get("extension") if type(value_element) is dict else None
        for position, ext in _items(extensions):
            expression = ext.get("valueExpression")
            if ext.get("url") != _EXPRESSION or type(expression) is not dict:
                continue
            at = f"{where}.filter[{index}].value.extension[{position}]"
            language, text = expression.get("language"), expression.get("expression")
            if language != "text/fhirpath":
                yield _error(
                    "invalid", at, f"a ValueSet expression must be text/fhirpath, not {language}"
                )
                continue
            if type(text) is not str:
                continue
            try:
                check_syntax(text)
            except UnsupportedConstraint as exc:
                yield _error("invalid", at, f"'{text}' is not valid FHIRPath: {exc}")
                continue
            for name in _VARIABLE.findall(text):
                known = name in declared or name in _STANDARD_VARIABLES
                if not known and not name.startswith(("vs-", "ext-")):
                    yield _error(
                        "invalid", at, f"'{text}' refers to the unknown parameter '{name}'"
                    )


def value_set_issues(node: Node) -> Iterator[Issue]:
    """Every violation of the rules above in the ValueSet at ``node``."""
    compose = node.obj.get("compose")
    if type(compose) is not dict:
        return
    for part in ("include", "exclude"):
        for index, item in _items(compose.get(part)):
            system = item.get("system")
            where = f"{node.path}.compose.{part}[{index}]"
            if type(system) is str and not _ABSOLUTE.match(system):
                text = (
                    f"compose.{part}.system must be an absolute URI, not '{system}' (name a "
                    "contained code system by its canonical URL)"
                )
                yield _error("invalid", where, text)
            elif system == SNOMED:
                yield from _snomed_include(item, where)
            yield from _filter_expressions(item, where, _parameters(node.obj))


def _snomed_include(item: dict[str, Any], where: str) -> Iterator[Issue]:
    """The SNOMED CT codes a ValueSet names (concepts, concept filters) are SCTIDs."""
    for index, concept in _items(item.get("concept")):
        code = concept.get("code")
        if type(code) is str and (problem := sctid_problem(code)) is not None:
            yield _error("code-invalid", f"{where}.concept[{index}]", problem)
    for index, flt in _items(item.get("filter")):
        value = flt.get("value")
        if flt.get("property") == "constraint" and type(value) is str:
            problem = ecl_problem(value)
            if problem is not None:
                yield _error("invalid", f"{where}.filter[{index}]", problem)
        elif flt.get("property") == "concept" and flt.get("op") in _CONCEPT_OPS:
            problem = sctid_problem(value) if type(value) is str else None
            if problem is not None:
                text = f"a filter on property 'concept' needs a SNOMED CT concept: {problem}"
                yield _error("invalid", f"{where}.filter[{index}]", text)
