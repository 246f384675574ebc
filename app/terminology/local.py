"""The default TerminologyService: answers from the content under ``terminology/``.

The work is synchronous and in memory; the async methods exist for the Protocol and simply
call the ``*_sync`` twins, which validation and benchmarks call directly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.codesystems import CodeSystemIndex, build_code_system
from app.terminology.content import Content, load_directory, published
from app.terminology.expand_output import check_paging, render
from app.terminology.expansion import ComposeError, Expander, Expansion
from app.terminology.lookup import lookup, subsumes
from app.terminology.problems import ContentProblem, unprocessable
from app.terminology.service import (
    ExpandRequest,
    LookupRequest,
    LookupResult,
    SubsumesOutcome,
    SubsumesRequest,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)
from app.terminology.structure import check_resource
from app.terminology.translate import ConceptMapIndex
from app.terminology.validate import Validator

_INLINE = "request"


def _checked(resource: dict[str, Any], kind: str) -> dict[str, Any]:
    """An inline resource gets the load-time structural checks; problems are a 422."""
    problems: list[ContentProblem] = []
    if not isinstance(resource, dict) or resource.get("resourceType") != kind:
        problems.append(ContentProblem(_INLINE, "resourceType", f"expected a {kind}"))
    else:
        # Inline resources need no url/version/status: they are not registered.
        filled = {"url": "urn:inline", "version": "0", "status": "active", **resource}
        check_resource(filled, _INLINE, problems)
    if problems:
        raise unprocessable(problems)
    return filled


class LocalTerminology:
    def __init__(self, content: Content) -> None:
        assert content.expander is not None
        assert content.conceptmaps is not None
        self._maps = content.conceptmaps
        self._content = content
        self._expander: Expander = content.expander
        self._validator = Validator(content.codesystems, self._expander)
        for resource in content.valuesets.all():
            # Warm the unversioned keys too, so the fast path finds every known url.
            self._expander.expansion_of(resource["url"])

    @classmethod
    def from_directory(cls, path: Path) -> LocalTerminology:
        """Raises ``TerminologyContentError`` naming every bad file and element."""
        return cls(load_directory(path))

    def resources(self) -> list[dict[str, Any]]:
        return published(self._content)

    def knows_value_set(self, url: str) -> bool:
        return self._content.valuesets.get(url) is not None

    def knows_code_system(self, url: str) -> bool:
        return self._content.codesystems.get(url) is not None

    def knows_concept_map(self, url: str) -> bool:
        return self._maps.knows(url)

    def value_set_codes(self, url: str) -> frozenset[tuple[str, str]]:
        """(system, code) pairs of a known ValueSet, e.g. for a search ``:in`` modifier."""
        return frozenset(self._expander.expansion_of(url).by_key)

    # --- sync twins -----------------------------------------------------------------------

    def expand_sync(self, request: ExpandRequest) -> dict[str, Any]:
        check_paging(request)
        resource, expansion = self._value_set(request.url, request.version, request.value_set)
        return render(resource, expansion, request)

    def validate_code_in_value_set_sync(self, request: ValidateCodeRequest) -> ValidateCodeResult:
        if request.url is None and request.value_set is not None:
            _, expansion = self._value_set(None, None, request.value_set)
            return self._validator.in_value_set(request, expansion)
        return self._validator.in_value_set(request)

    def validate_code_in_code_system_sync(self, request: ValidateCodeRequest) -> ValidateCodeResult:
        inline = self._inline_code_system(request.code_system)
        return self._validator.in_code_system(request, inline)

    def lookup_sync(self, request: LookupRequest) -> LookupResult:
        return lookup(
            self._content.codesystems, request, self._inline_code_system(request.code_system)
        )

    def subsumes_sync(self, request: SubsumesRequest) -> SubsumesOutcome:
        inline = self._inline_code_system(request.code_system)
        return subsumes(self._content.codesystems, request, inline)

    def translate_sync(self, request: TranslateRequest) -> TranslateResult:
        if request.concept_map is not None and request.url is None:
            index = ConceptMapIndex(self._content.codesystems)
            index.add(_checked(request.concept_map, "ConceptMap"))
            return index.translate(request)
        return self._maps.translate(request)

    # --- the Protocol -----------------------------------------------------------------------

    async def lookup(self, request: LookupRequest) -> LookupResult:
        return self.lookup_sync(request)

    async def validate_code_in_value_set(self, request: ValidateCodeRequest) -> ValidateCodeResult:
        return self.validate_code_in_value_set_sync(request)

    async def validate_code_in_code_system(
        self, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        return self.validate_code_in_code_system_sync(request)

    async def expand(self, request: ExpandRequest) -> dict[str, Any]:
        return self.expand_sync(request)

    async def translate(self, request: TranslateRequest) -> TranslateResult:
        return self.translate_sync(request)

    async def subsumes(self, request: SubsumesRequest) -> SubsumesOutcome:
        return self.subsumes_sync(request)

    # --- inline resources -------------------------------------------------------------------

    def _value_set(
        self, url: str | None, version: str | None, inline: dict[str, Any] | None
    ) -> tuple[dict[str, Any], Expansion]:
        if url is not None:
            resource = self._content.valuesets.get(url, version)
            if resource is None:
                shown = f"{url}|{version}" if version else url
                raise ResourceNotFound(f"Unknown ValueSet '{shown}'", ("url",))
            return resource, self._expander.expansion_of(url, version)
        if inline is None:
            raise InvalidRequest("A ValueSet url or valueSet is required", ("url",))
        _checked(inline, "ValueSet")
        try:
            return inline, self._expander.expand_resource(inline)
        except ComposeError as exc:
            raise unprocessable([ContentProblem(_INLINE, exc.element, exc.message)]) from exc

    def _inline_code_system(self, inline: dict[str, Any] | None) -> CodeSystemIndex | None:
        if inline is None:
            return None
        resource = copy.deepcopy(_checked(inline, "CodeSystem"))
        problems: list[ContentProblem] = []
        index = build_code_system(resource, _INLINE, problems)
        if problems:
            raise unprocessable(problems)
        return index
