"""``TerminologyService`` that answers from a primary (our local content) and asks a fallback
(a remote terminology server) only about what the primary does not hold.

The rule, per operation (whatever the primary holds, it answers, errors included: a code
missing from one of our complete systems is an answer, not a reason to ask elsewhere):

- ValueSet operations: the primary when it holds the ValueSet url (or the ValueSet is inline).
- CodeSystem operations (``$lookup``, ``$validate-code``, ``$subsumes``): the primary when it
  holds the system and, for a system it holds as ``content: fragment`` (our SNOMED CT, OPCS-4,
  ICD-10 and LOINC subsets), every code asked about; a code outside the fragment may well exist
  in the full system, so the fallback is asked.
- ``$translate``: with a ConceptMap url, the primary when it holds that map; without one, the
  primary when one of its maps has the input code's system as a source (as a target for
  ``reverse``); an inline ConceptMap goes to the primary.
- Anything under our own canonical base is always the primary's: nobody else can know it.

The primary's ``resources()`` (CodeSystem, ValueSet and ConceptMap JSON, as
``LocalTerminology`` offers) tells which systems are fragments with which codes, and which
systems the maps cover. Without it, a primary answers for every system it says it holds and
every ``$translate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from app.terminology.service import (
    Coding,
    ExpandRequest,
    LookupRequest,
    LookupResult,
    SubsumesOutcome,
    SubsumesRequest,
    TerminologyService,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)

REGIONAL_BASE = "https://fhir.southlondon-mitral.nhs.uk/"


@runtime_checkable
class HoldsContent(Protocol):
    def resources(self) -> list[dict[str, Any]]: ...


@dataclass
class _Held:
    """What the primary holds beyond ``knows_*``: fragment codes and ConceptMap coverage."""

    fragments: dict[str, set[str]] = field(default_factory=dict)
    map_urls: set[str] = field(default_factory=set)
    map_sources: set[str] = field(default_factory=set)
    map_targets: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, resources: Iterable[dict[str, Any]]) -> _Held:
        held = cls()
        for resource in resources:
            kind = resource.get("resourceType")
            if kind == "CodeSystem" and resource.get("content") == "fragment":
                codes = held.fragments.setdefault(resource["url"], set())
                codes.update(_codes(resource.get("concept") or ()))
            elif kind == "ConceptMap":
                held.map_urls.add(resource["url"])
                if resource.get("version"):
                    held.map_urls.add(f"{resource['url']}|{resource['version']}")
                for group in resource.get("group") or ():
                    held.map_sources.add(group.get("source"))
                    held.map_targets.add(group.get("target"))
        return held


def _codes(concepts: Iterable[dict[str, Any]]) -> Iterator[str]:
    for concept in concepts:
        yield concept["code"]
        yield from _codes(concept.get("concept") or ())


class FallbackTerminology:
    def __init__(
        self,
        primary: TerminologyService,
        fallback: TerminologyService,
        *,
        own_base: str = REGIONAL_BASE,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._own_base = own_base
        self._held: _Held | None = (
            _Held.of(primary.resources()) if isinstance(primary, HoldsContent) else None
        )

    def knows_value_set(self, url: str) -> bool:
        return self.primary.knows_value_set(url) or self.fallback.knows_value_set(url)

    def knows_code_system(self, url: str) -> bool:
        return self.primary.knows_code_system(url) or self.fallback.knows_code_system(url)

    # --- ValueSet operations -----------------------------------------------------------------

    async def expand(self, request: ExpandRequest) -> dict[str, Any]:
        url = request.url
        if url is not None and request.version and "|" not in url:
            url = f"{url}|{request.version}"
        return await self._value_set_side(url).expand(request)

    async def validate_code_in_value_set(self, request: ValidateCodeRequest) -> ValidateCodeResult:
        return await self._value_set_side(request.url).validate_code_in_value_set(request)

    def _value_set_side(self, url: str | None) -> TerminologyService:
        if url is None or self._ours(url) or self.primary.knows_value_set(url):
            return self.primary
        return self.fallback

    # --- CodeSystem operations ---------------------------------------------------------------

    async def lookup(self, request: LookupRequest) -> LookupResult:
        coding = request.coding or Coding(request.system or "", request.code or "")
        side = self._code_system_side(
            request.code_system, coding.system, coding.version or request.version, [coding.code]
        )
        return await side.lookup(request)

    async def validate_code_in_code_system(
        self, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        codings = _codings(request.code, request.system, request.coding, request.codeable_concept)
        system = request.url or request.system or (codings[0].system if codings else None)
        codes = [c.code for c in codings if c.system in (system, "")]
        side = self._code_system_side(request.code_system, system, request.system_version, codes)
        return await side.validate_code_in_code_system(request)

    async def subsumes(self, request: SubsumesRequest) -> SubsumesOutcome:
        a, b = request.coding_a, request.coding_b
        system = request.system or (a.system if a else None) or (b.system if b else None)
        codes = [a.code if a else request.code_a or "", b.code if b else request.code_b or ""]
        side = self._code_system_side(request.code_system, system, request.version, codes)
        return await side.subsumes(request)

    def _code_system_side(
        self,
        inline: dict[str, Any] | None,
        system: str | None,
        version: str | None,
        codes: list[str],
    ) -> TerminologyService:
        if inline is not None or not system or self._ours(system):
            return self.primary  # the primary gives the error for a missing system
        pinned = f"{system}|{version}" if version else system
        if not self.primary.knows_code_system(pinned):
            return self.fallback
        fragment = self._held.fragments.get(system) if self._held else None
        if fragment is not None and not all(code in fragment for code in codes if code):
            return self.fallback
        return self.primary

    # --- ConceptMap/$translate ---------------------------------------------------------------

    async def translate(self, request: TranslateRequest) -> TranslateResult:
        return await self._translate_side(request).translate(request)

    def _translate_side(self, request: TranslateRequest) -> TerminologyService:
        if request.concept_map is not None or self._held is None:
            return self.primary
        if request.url is not None:
            if self._ours(request.url) or request.url in self._held.map_urls:
                return self.primary
            return self.fallback
        covered = self._held.map_targets if request.reverse else self._held.map_sources
        codings = _codings(request.code, request.system, request.coding, request.codeable_concept)
        if not codings or any(c.system in covered or self._ours(c.system) for c in codings):
            return self.primary
        return self.fallback

    def _ours(self, url: str) -> bool:
        return url.startswith(self._own_base)


def _codings(
    code: str | None,
    system: str | None,
    coding: Coding | None,
    codeable_concept: tuple[Coding, ...] | None,
) -> list[Coding]:
    if code is not None:
        return [Coding(system or "", code)]
    if coding is not None:
        return [coding]
    return list(codeable_concept or ())
