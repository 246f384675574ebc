"""A centre's code translation for the mapping engine: local code -> local Coding (with its
display) and -> regional codes through the centre's ConceptMap, cached per code.

Fail loudly: a code the centre's CodeSystem does not define, or one the ConceptMap leaves
unmatched, is an error that quarantines the input; nothing passes through untranslated.
"""

from __future__ import annotations

from functools import lru_cache

from app.errors import FhirError
from app.ingest.mapping.engine import Terminology
from app.ingest.mapping.expressions import Coded
from app.ingest.mapping.spec import Spec
from app.terminology.local import LocalTerminology
from app.terminology.service import LookupRequest, TranslateRequest

ACCEPTED = frozenset({"equivalent", "equal", "wider", "subsumed", "inexact", "relatedto"})
"""Equivalences that give a regional code. ``narrower`` / ``specializes`` would claim more
than the centre said; ``unmatched`` / ``disjoint`` say there is no code."""


def centre_terminology(spec: Spec, local: LocalTerminology) -> Terminology:
    system = spec.terminology.local_system
    concept_map = spec.terminology.concept_map

    @lru_cache(maxsize=4096)
    def local_code(code: str) -> Coded | str:
        try:
            found = local.lookup_sync(LookupRequest(code=code, system=system))
        except FhirError as exc:
            return f"{code!r} is not a {spec.centre} local code: {exc.diagnostics}"
        return Coded(system, code, found.display)

    @lru_cache(maxsize=4096)
    def translate(code: str, target: str) -> list[Coded] | str:
        result = local.translate_sync(
            TranslateRequest(code=code, system=system, url=concept_map, target_system=target)
        )
        codings = [
            Coded(m.concept.system, m.concept.code, m.concept.display)
            for m in result.matches
            if m.concept is not None and m.equivalence in ACCEPTED
        ]
        if codings:
            return codings
        why = result.message or "no match"
        return f"{spec.centre} local code {code!r} has no {target} code in {concept_map}: {why}"

    return Terminology(translate=translate, local=local_code)
