"""$validate-code against a ValueSet (cached expansion) or a CodeSystem, with display checks.

The common case (a known ValueSet, a code that is in it, a right or absent display) returns
after two dict lookups without building any issue; everything else explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidRequest, Issue, ResourceNotFound
from app.terminology.codesystems import CodeSystemIndex, CodeSystemRegistry, display_key
from app.terminology.expansion import Expander, Expansion
from app.terminology.service import Coding, ValidateCodeRequest, ValidateCodeResult


@dataclass(slots=True)
class _Outcome:
    """One coding checked: valid or not, the concept's display if it was found, what's wrong."""

    valid: bool
    display: str | None = None
    version: str | None = None
    issues: tuple[Issue, ...] = ()


def _inputs(request: ValidateCodeRequest) -> list[tuple[Coding, str]]:
    """The codings to check, each with the FHIRPath prefix its issues are reported under."""
    if request.code is not None:
        coding = Coding(request.system or "", request.code, request.display, request.system_version)
        return [(coding, "Coding")]
    if request.coding is not None:
        return [(request.coding, "Coding")]
    if request.codeable_concept:
        return [(c, f"CodeableConcept.coding[{i}]") for i, c in enumerate(request.codeable_concept)]
    raise InvalidRequest("One of code, coding or codeableConcept is required", ("code",))


def _display_issue(coding: Coding, display: str | None, prefix: str, lenient: bool) -> Issue:
    message = (
        f"Wrong display '{coding.display}' for {coding.system}#{coding.code}: expected '{display}'"
    )
    return Issue("warning" if lenient else "error", "invalid", message, (f"{prefix}.display",))


def _combine(outcomes: list[_Outcome], coding: Coding) -> ValidateCodeResult:
    """Valid if any coding is; the other codings' errors stay, downgraded to information."""
    valid = next((o for o in outcomes if o.valid), None)
    issues: list[Issue] = []
    for outcome in outcomes:
        downgrade = valid is not None and not outcome.valid
        for issue in outcome.issues:
            if downgrade and issue.severity == "error":
                issues.append(Issue("information", issue.code, issue.diagnostics, issue.expression))
            else:
                issues.append(issue)
    found = valid or next((o for o in outcomes if o.display), outcomes[0])
    message = "; ".join(i.diagnostics for i in issues) or None
    return ValidateCodeResult(
        result=valid is not None,
        message=message,
        display=found.display,
        system=coding.system if len(outcomes) == 1 else None,
        code=coding.code if len(outcomes) == 1 else None,
        version=found.version,
        issues=tuple(issues),
    )


class Validator:
    def __init__(self, codesystems: CodeSystemRegistry, expander: Expander) -> None:
        self.codesystems = codesystems
        self.expander = expander

    def in_value_set(
        self, request: ValidateCodeRequest, inline: Expansion | None = None
    ) -> ValidateCodeResult:
        if inline is None and request.url is not None and request.code is not None:
            expansion = self.expander.cached(request.url)
            if expansion is not None and request.system:
                entry = expansion.by_key.get((request.system, request.code))
                if (
                    entry is not None
                    and request.system_version is None
                    and (
                        request.display is None
                        or display_key(request.display) in entry.display_keys
                    )
                ):
                    return ValidateCodeResult(
                        True, None, entry.display, request.system, request.code, entry.version
                    )
        if inline is not None:
            expansion, vs_url = inline, (request.value_set or {}).get("url", "(inline)")
        elif request.url:
            expansion, vs_url = self.expander.expansion_of(request.url), request.url
        else:
            raise InvalidRequest("A ValueSet url or valueSet is required", ("url",))
        inputs = _inputs(request)
        outcomes = [
            self._against_value_set(self._with_system(c, expansion), p, expansion, vs_url, request)
            for c, p in inputs
        ]
        return _combine(outcomes, self._with_system(inputs[0][0], expansion))

    def _with_system(self, coding: Coding, expansion: Expansion) -> Coding:
        if coding.system:
            return coding
        if len(expansion.systems) == 1:
            (system,) = expansion.systems
            return Coding(system, coding.code, coding.display, coding.version)
        raise InvalidRequest(f"A system is required with code '{coding.code}'", ("system",))

    def _against_value_set(
        self,
        coding: Coding,
        prefix: str,
        expansion: Expansion,
        vs_url: str,
        request: ValidateCodeRequest,
    ) -> _Outcome:
        held = self.codesystems.get(coding.system, coding.version)
        if coding.version and held is None and self.codesystems.holds(coding.system):
            message = f"Unknown version '{coding.version}' of {coding.system}"
            return _Outcome(
                False, issues=(Issue("error", "not-found", message, (f"{prefix}.version",)),)
            )
        entry = expansion.by_key.get((coding.system, coding.code))
        if entry is not None:
            if coding.display is None or display_key(coding.display) in entry.display_keys:
                return _Outcome(True, entry.display, entry.version)
            issue = _display_issue(coding, entry.display, prefix, request.lenient_display)
            return _Outcome(request.lenient_display, entry.display, entry.version, (issue,))
        if held is None and coding.system not in expansion.systems:
            message = (
                f"Unknown code system '{coding.system}': the code '{coding.code}' is not in "
                f"the value set {vs_url}"
            )
            return _Outcome(
                False, issues=(Issue("error", "not-found", message, (f"{prefix}.system",)),)
            )
        if held is not None and coding.code not in held.concepts:
            issue = self._unknown_code(coding, held, prefix)
            return _Outcome(False, issues=(issue,))
        concept = held.concepts.get(coding.code) if held else None
        message = f"The code '{coding.code}' from {coding.system} is not in the value set {vs_url}"
        issue = Issue("error", "code-invalid", message, (f"{prefix}.code",))
        return _Outcome(False, concept.display if concept else None, None, (issue,))

    def _unknown_code(self, coding: Coding, cs: CodeSystemIndex, prefix: str) -> Issue:
        message = f"Unknown code '{coding.code}' in {cs.url}"
        elsewhere = [s for s in self.codesystems.systems_with_code(coding.code) if s != cs.url]
        if elsewhere:
            message += f" (it is a code of {', '.join(elsewhere)})"
        return Issue("error", "code-invalid", message, (f"{prefix}.code",))

    def in_code_system(
        self, request: ValidateCodeRequest, inline: CodeSystemIndex | None = None
    ) -> ValidateCodeResult:
        inputs = _inputs(request)
        cs = inline or self._code_system(request, inputs)
        outcomes = [self._against_code_system(c, p, cs, request) for c, p in inputs]
        first = inputs[0][0]
        return _combine(outcomes, Coding(first.system or cs.url, first.code, first.display))

    def _code_system(
        self, request: ValidateCodeRequest, inputs: list[tuple[Coding, str]]
    ) -> CodeSystemIndex:
        url = request.url or request.system or inputs[0][0].system
        if not url:
            raise InvalidRequest("The code system url is required", ("url",))
        cs = self.codesystems.get(url, request.system_version)
        if cs is None:
            shown = f"{url}|{request.system_version}" if request.system_version else url
            raise ResourceNotFound(f"Unknown code system '{shown}'", ("url",))
        return cs

    def _against_code_system(
        self, coding: Coding, prefix: str, cs: CodeSystemIndex, request: ValidateCodeRequest
    ) -> _Outcome:
        if coding.system and coding.system != cs.url:
            message = f"The system {coding.system} of '{coding.code}' is not {cs.url}"
            issue = Issue("error", "code-invalid", message, (f"{prefix}.system",))
            return _Outcome(False, issues=(issue,))
        concept = cs.concepts.get(coding.code)
        if concept is None:
            return _Outcome(False, issues=(self._unknown_code(coding, cs, prefix),))
        if coding.display is None or display_key(coding.display) in concept.display_keys:
            return _Outcome(True, concept.display, cs.version)
        issue = _display_issue(
            Coding(cs.url, coding.code, coding.display), concept.display, prefix,
            request.lenient_display,
        )  # fmt: skip
        return _Outcome(request.lenient_display, concept.display, cs.version, (issue,))
