"""CodeSystem/$lookup and $subsumes: questions about one code system's concepts."""

from __future__ import annotations

from typing import cast

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.codesystems import CodeSystemIndex, CodeSystemRegistry, Concept
from app.terminology.service import (
    Coding,
    LookupRequest,
    LookupResult,
    Property,
    SubsumesOutcome,
    SubsumesRequest,
)


def resolve(
    registry: CodeSystemRegistry, system: str | None, version: str | None, parameter: str
) -> CodeSystemIndex:
    if not system:
        raise InvalidRequest("A system is required", (parameter,))
    cs = registry.get(system, version)
    if cs is None:
        shown = f"{system}|{version}" if version else system
        raise ResourceNotFound(f"Unknown code system '{shown}'", (parameter,))
    return cs


def concept_of(cs: CodeSystemIndex, code: str, parameter: str) -> Concept:
    concept = cs.concepts.get(code)
    if concept is None:
        raise ResourceNotFound(f"Unable to find code '{code}' in {cs.url}", (parameter,))
    return concept


def lookup(
    registry: CodeSystemRegistry, request: LookupRequest, inline: CodeSystemIndex | None = None
) -> LookupResult:
    coding = request.coding or Coding(
        request.system or "", request.code or "", None, request.version
    )
    if not coding.code:
        raise InvalidRequest("A code (or coding) is required", ("code",))
    if inline is not None:
        cs = inline
    else:
        cs = resolve(registry, coding.system, coding.version or request.version, "system")
    concept = concept_of(cs, coding.code, "code")
    wanted = set(request.properties)

    def want(name: str) -> bool:
        return not wanted or name in wanted

    props: list[Property] = []
    if concept.definition and want("definition"):
        props.append(Property("definition", "string", concept.definition))
    props.extend(
        p for p in concept.properties if want(p.code) and p.code not in ("parent", "child")
    )
    if want("parent"):
        props.extend(Property("parent", "code", code) for code in concept.parents)
    if want("child"):
        props.extend(Property("child", "code", code) for code in concept.children)
    if concept.inactive and want("inactive") and not any(p.code == "inactive" for p in props):
        props.append(Property("inactive", "boolean", True))
    return LookupResult(
        name=cs.name,
        display=concept.display or concept.code,
        version=cs.version,
        abstract=concept.abstract,
        designations=concept.designations if want("designation") else (),
        properties=tuple(props),
    )


def subsumes(
    registry: CodeSystemRegistry, request: SubsumesRequest, inline: CodeSystemIndex | None = None
) -> SubsumesOutcome:
    a = request.coding_a or (
        Coding(request.system or "", request.code_a) if request.code_a else None
    )
    b = request.coding_b or (
        Coding(request.system or "", request.code_b) if request.code_b else None
    )
    if a is None:
        raise InvalidRequest("codeA (or codingA) is required", ("codeA",))
    if b is None:
        raise InvalidRequest("codeB (or codingB) is required", ("codeB",))
    system = request.system or a.system or b.system
    for name, coding in (("codingA", a), ("codingB", b)):
        if coding.system and system and coding.system != system:
            message = f"{name} is from {coding.system}, not {system}"
            raise InvalidRequest(message, (f"{name}.system",))
    cs = inline or resolve(registry, system, request.version, "system")
    concept_of(cs, a.code, "codeA")
    concept_of(cs, b.code, "codeB")
    return cast(SubsumesOutcome, cs.subsumes(a.code, b.code))
