"""``TerminologyService`` answered by an external FHIR R4 terminology server (e.g. Ontoserver,
the NHS England Terminology Server), through our ``FhirClient``.

Simple inputs (code + system, urls, flags) go as a GET with query parameters, which servers and
caches handle best; a Coding, a CodeableConcept or an inline resource makes it a POST of
``Parameters``. Answers are read tolerantly: servers add outputs R4 does not define (``issues``,
``system``, ``code``...), and those we know are kept.

``knows_value_set`` / ``knows_code_system`` answer True: whether the server holds something
can only be learnt by asking it (asynchronously), and a remote is the last resort anyway, so
its 404 is the answer. ``$validate-code`` and ``$translate`` answers are cached (bounded, with
expiry) because validating a large ingest asks the same few questions thousands of times;
errors are never cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any, get_args

import httpx

from app.clients.cache import TtlCache
from app.clients.errors import BadGateway, outcome_issues
from app.clients.fhir_client import FhirClient, redacted
from app.clients.parameters import expect_parameters, first, parameter, parameters, parts, value
from app.errors import InvalidRequest, Issue, NotSupported
from app.terminology.service import (
    EQUIVALENCES,
    Coding,
    Designation,
    Equivalence,
    ExpandRequest,
    LookupRequest,
    LookupResult,
    Property,
    PropertyType,
    SubsumesOutcome,
    SubsumesRequest,
    TranslateMatch,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)

Input = tuple[str, str, Any]
"""(parameter name, value[x] type, value); a None value is left out."""

SIMPLE_TYPES = {"valueCode", "valueString", "valueUri", "valueBoolean", "valueInteger"}
PROPERTY_TYPES: dict[str, PropertyType] = {
    "valueCode": "code",
    "valueCoding": "Coding",
    "valueString": "string",
    "valueInteger": "integer",
    "valueBoolean": "boolean",
    "valueDateTime": "dateTime",
    "valueDecimal": "decimal",
}
R5_RELATIONSHIPS: dict[str, Equivalence] = {
    "related-to": "relatedto",
    "equivalent": "equivalent",
    "source-is-narrower-than-target": "wider",
    "source-is-broader-than-target": "narrower",
    "not-related-to": "disjoint",
}
NO_MATCH: frozenset[str] = frozenset({"unmatched", "disjoint"})
SUBSUMES_OUTCOMES: frozenset[str] = frozenset(get_args(SubsumesOutcome))


class RemoteTerminology:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        cache_size: int = 10_000,
        cache_ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = f"The terminology server at {redacted(base_url)}"
        self._fhir = FhirClient(
            base_url, timeout=timeout, client=client, headers=headers, name=self.server
        )
        self._validated: TtlCache[ValidateCodeResult] = TtlCache(
            cache_size, cache_ttl_seconds, clock
        )
        self._translated: TtlCache[TranslateResult] = TtlCache(cache_size, cache_ttl_seconds, clock)

    async def aclose(self) -> None:
        await self._fhir.aclose()

    def knows_value_set(self, url: str) -> bool:  # noqa: ARG002 (see the module docstring)
        return True

    def knows_code_system(self, url: str) -> bool:  # noqa: ARG002
        return True

    # --- operations ------------------------------------------------------------------------

    async def lookup(self, request: LookupRequest) -> LookupResult:
        if request.code_system is not None:
            raise NotSupported("An inline CodeSystem cannot be looked up on a remote server")
        coding = request.coding
        system = coding.system if coding else request.system
        code = coding.code if coding else request.code
        if not code or not system:
            raise InvalidRequest("$lookup needs code and system, or coding", ("code",))
        inputs: list[Input] = (
            [("coding", "valueCoding", _coding_json(coding))]
            if coding
            else [("code", "valueCode", code), ("system", "valueUri", system)]
        )
        inputs.append(("version", "valueString", request.version))
        inputs += [("property", "valueCode", p) for p in request.properties]
        answer = await self._parameters("CodeSystem/$lookup", inputs)
        return LookupResult(
            name=str(first(answer, "name") or system),
            display=str(first(answer, "display") or code),
            version=_str(first(answer, "version")),
            abstract=first(answer, "abstract") is True,
            designations=tuple(_designation(d) for d in parts(answer, "designation")),
            properties=tuple(p for p in map(_property, parts(answer, "property")) if p),
        )

    async def validate_code_in_value_set(self, request: ValidateCodeRequest) -> ValidateCodeResult:
        if (request.url is None) == (request.value_set is None):
            raise InvalidRequest(
                "ValueSet/$validate-code needs exactly one of url or valueSet", ("url",)
            )
        url, version = _split_canonical(request.url)
        inputs: list[Input] = [
            ("url", "valueUri", url),
            ("valueSetVersion", "valueString", version),
            ("valueSet", "resource", request.value_set),
            *_code_inputs(_on_the_wire(request), "ValueSet/$validate-code", system_name="system"),
        ]
        return await self._validate("ValueSet/$validate-code", request, inputs)

    async def validate_code_in_code_system(
        self, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        if request.url is not None and request.system is None:
            request = replace(request, system=request.url, url=None)  # both name the system
        inputs: list[Input] = [
            ("codeSystem", "resource", request.code_system),
            *_code_inputs(_on_the_wire(request), "CodeSystem/$validate-code", system_name="url"),
        ]
        return await self._validate("CodeSystem/$validate-code", request, inputs)

    async def expand(self, request: ExpandRequest) -> dict[str, Any]:
        if (request.url is None) == (request.value_set is None):
            raise InvalidRequest("ValueSet/$expand needs exactly one of url or valueSet", ("url",))
        url, version = _split_canonical(request.url)
        inputs: list[Input] = [
            ("url", "valueUri", url),
            ("valueSetVersion", "valueString", request.version or version),
            ("valueSet", "resource", request.value_set),
            ("filter", "valueString", request.filter),
            ("count", "valueInteger", request.count),
            ("offset", "valueInteger", request.offset or None),
            ("activeOnly", "valueBoolean", request.active_only or None),
            ("includeDesignations", "valueBoolean", request.include_designations or None),
        ]
        answer = await self._call("ValueSet/$expand", inputs)
        if answer.get("resourceType") != "ValueSet" or not isinstance(
            answer.get("expansion"), dict
        ):
            raise BadGateway(f"{self.server} answered $expand without an expanded ValueSet")
        return answer

    async def translate(self, request: TranslateRequest) -> TranslateResult:
        key = _cache_key(request)
        cached = self._translated.get(key) if key is not None else None
        if cached is not None:
            return cached
        url, version = _split_canonical(request.url)
        inputs: list[Input] = [
            ("url", "valueUri", url),
            ("conceptMapVersion", "valueString", version),
            ("conceptMap", "resource", request.concept_map),
            *_code_inputs(request, "ConceptMap/$translate", system_name="system"),
            ("version", "valueString", request.version),
            ("source", "valueUri", request.source),
            ("target", "valueUri", request.target),
            ("targetsystem", "valueUri", request.target_system),
            ("reverse", "valueBoolean", request.reverse or None),
        ]
        answer = await self._parameters("ConceptMap/$translate", inputs)
        fallback_source = request.url or self._fhir.base_url
        matches = tuple(_match(m, fallback_source) for m in parts(answer, "match"))
        usable = any(m.concept is not None and m.equivalence not in NO_MATCH for m in matches)
        said = first(answer, "result")
        result = said is True and usable
        message = _str(first(answer, "message"))
        if not result and message is None:
            message = "The terminology server found no match for the code"
        translated = TranslateResult(result=result, message=message, matches=matches)
        if key is not None:
            self._translated.put(key, translated)
        return translated

    async def subsumes(self, request: SubsumesRequest) -> SubsumesOutcome:
        if request.code_system is not None:
            raise NotSupported(
                "$subsumes on an inline CodeSystem cannot be sent to a remote server"
            )
        if request.coding_a is not None and request.coding_b is not None:
            inputs: list[Input] = [
                ("codingA", "valueCoding", _coding_json(request.coding_a)),
                ("codingB", "valueCoding", _coding_json(request.coding_b)),
            ]
        elif request.code_a and request.code_b and request.system:
            inputs = [
                ("codeA", "valueCode", request.code_a),
                ("codeB", "valueCode", request.code_b),
                ("system", "valueUri", request.system),
            ]
        else:
            raise InvalidRequest(
                "$subsumes needs codeA, codeB and system, or codingA and codingB", ("codeA",)
            )
        inputs.append(("version", "valueString", request.version))
        answer = await self._parameters("CodeSystem/$subsumes", inputs)
        outcome = first(answer, "outcome")
        if outcome not in SUBSUMES_OUTCOMES:
            raise BadGateway(f"{self.server} answered $subsumes with outcome {outcome!r}")
        found: SubsumesOutcome = outcome
        return found

    # --- plumbing --------------------------------------------------------------------------

    async def _validate(
        self, path: str, request: ValidateCodeRequest, inputs: list[Input]
    ) -> ValidateCodeResult:
        key = _cache_key((path, request))
        cached = self._validated.get(key) if key is not None else None
        if cached is not None:
            return cached
        answer = await self._parameters(path, inputs)
        result = _validate_result(answer, self.server, path)
        if request.lenient_display and result.result:
            result = _with_display_warning(request, result)
        if key is not None:
            self._validated.put(key, result)
        return result

    async def _parameters(self, path: str, inputs: list[Input]) -> dict[str, Any]:
        return expect_parameters(await self._call(path, inputs), self.server, path)

    async def _call(self, path: str, inputs: list[Input]) -> dict[str, Any]:
        given = [i for i in inputs if i[2] is not None]
        if all(kind in SIMPLE_TYPES for _, kind, _ in given):
            query: dict[str, list[str]] = {}
            for name, _, raw in given:
                text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
                query.setdefault(name, []).append(text)
            return await self._fhir.operation(path, query)
        body = parameters(*(parameter(name, kind, raw) for name, kind, raw in given))
        return await self._fhir.operation(path, body=body, method="POST")


# --- request building ----------------------------------------------------------------------


def _code_inputs(
    request: ValidateCodeRequest | TranslateRequest, operation: str, *, system_name: str
) -> list[Input]:
    given = [
        name
        for name, found in (
            ("code", request.code),
            ("coding", request.coding),
            ("codeableConcept", request.codeable_concept),
        )
        if found is not None
    ]
    if len(given) != 1:
        raise InvalidRequest(
            f"{operation} needs exactly one of code, coding or codeableConcept "
            f"(given: {', '.join(given) or 'none'})",
            ("code",),
        )
    if request.coding is not None:
        return [("coding", "valueCoding", _coding_json(request.coding))]
    if request.codeable_concept is not None:
        concept = {"coding": [_coding_json(c) for c in request.codeable_concept]}
        return [("codeableConcept", "valueCodeableConcept", concept)]
    found: list[Input] = [("code", "valueCode", request.code)]
    if isinstance(request, ValidateCodeRequest):
        if request.system is None and request.code_system is None:
            raise InvalidRequest(f"{operation}: a code needs its system", ("system",))
        found += [
            (system_name, "valueUri", request.system),
            (
                "systemVersion" if system_name == "system" else "version",
                "valueString",
                request.system_version,
            ),
            ("display", "valueString", request.display),
        ]
    else:
        if request.system is None:
            raise InvalidRequest(f"{operation}: a code needs its system", ("system",))
        found.append(("system", "valueUri", request.system))
    return found


def _on_the_wire(request: ValidateCodeRequest) -> ValidateCodeRequest:
    """R4 has no lenient-display input: a lenient request goes without displays, and the one
    given is compared with the server's preferred display here (``_with_display_warning``)."""
    if not request.lenient_display:
        return request
    coding = replace(request.coding, display=None) if request.coding else None
    concept = request.codeable_concept
    if concept is not None:
        concept = tuple(replace(c, display=None) for c in concept)
    return replace(request, display=None, coding=coding, codeable_concept=concept)


def _coding_json(coding: Coding) -> dict[str, str]:
    raw = {
        "system": coding.system,
        "version": coding.version,
        "code": coding.code,
        "display": coding.display,
    }
    return {k: v for k, v in raw.items() if v is not None}


def _split_canonical(url: str | None) -> tuple[str | None, str | None]:
    if url is None or "|" not in url:
        return url, None
    base, _, version = url.partition("|")
    return base, version or None


def _cache_key(request: object) -> Hashable | None:
    """The request itself when it is hashable (no inline resource), else None: not cached."""
    try:
        hash(request)
    except TypeError:
        return None
    return request


# --- answer reading ------------------------------------------------------------------------


def _str(found: Any) -> str | None:
    return found if isinstance(found, str) else None


def _coding(found: Any) -> Coding | None:
    if not isinstance(found, dict) or not found.get("code"):
        return None
    return Coding(
        system=str(found.get("system") or ""),
        code=str(found["code"]),
        display=_str(found.get("display")),
        version=_str(found.get("version")),
    )


def _designation(part: dict[str, Any]) -> Designation:
    return Designation(
        value=str(first(part, "value") or ""),
        language=_str(first(part, "language")),
        use=_coding(first(part, "use")),
    )


def _property(part: dict[str, Any]) -> Property | None:
    code = first(part, "code")
    for found in parts(part, "value"):
        for key, kind in PROPERTY_TYPES.items():
            if key in found:
                raw = found[key]
                typed = _coding(raw) if kind == "Coding" else raw
                if isinstance(code, str) and typed is not None:
                    return Property(code=code, type=kind, value=typed)
    return None


def _match(part: dict[str, Any], fallback_source: str) -> TranslateMatch:
    said = first(part, "equivalence")
    if said is None:
        said = R5_RELATIONSHIPS.get(str(first(part, "relationship")))
    # A match without a known equivalence claims no more than "related to".
    equivalence: Equivalence = said if said in EQUIVALENCES else "relatedto"
    return TranslateMatch(
        equivalence=equivalence,
        concept=_coding(first(part, "concept")),
        source=_str(first(part, "source")) or fallback_source,
        comment=_str(first(part, "comment")),
    )


def _validate_result(answer: dict[str, Any], server: str, path: str) -> ValidateCodeResult:
    result = first(answer, "result")
    if not isinstance(result, bool):
        raise BadGateway(f"{server} answered {path} without a boolean result")
    issues: tuple[Issue, ...] = ()
    for outcome in parts(answer, "issues"):
        issues += outcome_issues(value(outcome))
    return ValidateCodeResult(
        result=result,
        message=_str(first(answer, "message")),
        display=_str(first(answer, "display")),
        system=_str(first(answer, "system")),
        code=_str(first(answer, "code")),
        version=_str(first(answer, "version")),
        issues=issues,
    )


def _with_display_warning(
    request: ValidateCodeRequest, result: ValidateCodeResult
) -> ValidateCodeResult:
    given = request.coding.display if request.coding else request.display
    if given is None or result.display is None or result.display.casefold() == given.casefold():
        return result
    where = "Coding.display" if request.coding else "display"
    text = (
        f"The display {given!r} is not the preferred display {result.display!r} "
        "(the server was not asked about other designations)"
    )
    warning = Issue("warning", "invalid", text, (where,))
    return ValidateCodeResult(
        result=True,
        message=result.message or text,
        display=result.display,
        system=result.system,
        code=result.code,
        version=result.version,
        issues=(*result.issues, warning),
    )
