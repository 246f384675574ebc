"""The profile's required and extensible bindings, checked in one pass after the walk.

The walk only collects coded values; here each becomes a ValueSet $validate-code request.
With the local terminology (the default) the sync twin answers in a couple of dict lookups,
so nothing awaits; a remote service gets all requests concurrently. A binding that cannot be
checked (unknown ValueSet, service down) is a warning saying so, never a crash.

Severity, as the HL7 Java validator: required and not in the set -> error; extensible and
not in the set -> warning when a coding uses one of the set's code systems (the set applies
but another code was picked); a wrong display -> warning.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.errors import FhirError, Issue, ResourceNotFound
from app.terminology.local import LocalTerminology
from app.terminology.service import (
    Coding,
    TerminologyService,
    ValidateCodeRequest,
    ValidateCodeResult,
)
from app.validation.profile_model import Binding

__all__ = ["BindingCheck", "binding_issues"]

_TEXT_KINDS = frozenset({"code", "string", "uri"})


@dataclass(slots=True)
class BindingCheck:
    """One coded value the walk met under a binding (not frozen: one is built per value, and
    a frozen dataclass pays ``object.__setattr__`` per field)."""

    binding: Binding
    kind: str  # FHIR type code: code, Coding, CodeableConcept, Quantity, string, uri
    value: Any
    path: str


def _coding(raw: Any) -> Coding | None:
    if type(raw) is not dict or type(raw.get("code")) is not str:
        return None
    return Coding(raw.get("system") or "", raw["code"], raw.get("display"), raw.get("version"))


def _request(check: BindingCheck) -> ValidateCodeRequest | str:
    """The request for one coded value, or why there is nothing to check (a message)."""
    url, value = check.binding.value_set, check.value
    if check.kind in _TEXT_KINDS:
        return ValidateCodeRequest(url=url, code=str(value), lenient_display=True)
    if check.kind == "CodeableConcept":
        codings = tuple(
            c for c in map(_coding, value.get("coding") or ()) if c is not None
        )  # fmt: skip
        if not codings:
            return "has no coding"
        return ValidateCodeRequest(url=url, codeable_concept=codings, lenient_display=True)
    coding = _coding(value)
    if coding is None:
        return "has no code"
    return ValidateCodeRequest(url=url, coding=coding, lenient_display=True)


@lru_cache(maxsize=512)
def _codes(local: LocalTerminology, url: str) -> tuple[frozenset[str], frozenset[str]]:
    """(systems, codes) of a local ValueSet: for bare codes and the extensible rule."""
    pairs = local.value_set_codes(url)
    return frozenset(s for s, _ in pairs), frozenset(c for _, c in pairs)


@lru_cache(maxsize=4096)
def _verdict(local: LocalTerminology, request: ValidateCodeRequest) -> ValidateCodeResult:
    """The local content's verdict on one request, remembered as `_codes` is: the content is
    fixed for the process, and a feed sends the same codes in resource after resource. (A
    request that raises is not remembered: it is asked again, and reported again.)"""
    return local.validate_code_in_value_set_sync(request)


def _reroot(issue: Issue, path: str, kind: str) -> tuple[str, ...]:
    """`CodeableConcept.coding[1].display` -> `<path>.coding[1].display`."""
    if kind in _TEXT_KINDS or not issue.expression:
        return (path,)
    _, _, rest = issue.expression[0].partition(".")
    return (f"{path}.{rest}",) if rest else (path,)


class _Checker:
    def __init__(self, terminology: TerminologyService, label: str) -> None:
        self.terminology = terminology
        self.local = terminology if isinstance(terminology, LocalTerminology) else None
        self.label = label
        self.issues: list[Issue] = []

    def add(self, severity: str, code: str, path: str, text: str) -> None:
        self.issues.append(Issue(severity, code, f"{text} {self.label}", (path,)))

    def systems_apply(self, check: BindingCheck, request: ValidateCodeRequest) -> bool:
        """Whether any coding uses a code system the ValueSet draws on (remote: assume so)."""
        if self.local is None:
            return True
        systems, _ = _codes(self.local, check.binding.value_set)
        if request.codeable_concept is not None:
            return any(c.system in systems for c in request.codeable_concept)
        if request.coding is not None:
            return request.coding.system in systems
        return True

    def outcome(
        self,
        check: BindingCheck,
        request: ValidateCodeRequest,
        result: ValidateCodeResult | BaseException,
    ) -> None:
        b, path = check.binding, check.path
        about = f"{b.strength} binding to {b.value_set}"
        if isinstance(result, ResourceNotFound):
            self.add("warning", "not-found", path, f"{path}: the {about} could not be checked")
            return
        if isinstance(result, FhirError):
            severity = "error" if b.strength == "required" else "warning"
            self.add(severity, "code-invalid", path, f"{path}: {result.diagnostics} ({about})")
            return
        if isinstance(result, BaseException):
            text = f"{path}: the {about} could not be checked: {result}"
            self.add("warning", "exception", path, text)
            return
        if result.result:
            for issue in result.issues:
                if issue.severity == "warning":
                    where = _reroot(issue, path, check.kind)
                    self.issues.append(
                        Issue("warning", issue.code, f"{issue.diagnostics} {self.label}", where)
                    )
            return
        reason = result.message or "the code is not in the value set"
        if b.strength == "required":
            self.add("error", "code-invalid", path, f"{path}: {reason} ({about})")
        elif self.systems_apply(check, request):
            self.add("warning", "code-invalid", path, f"{path}: {reason} ({about})")

    def bare_code(self, check: BindingCheck) -> None:
        """A `code` carries no system: it is in the set if any system of the set has it."""
        assert self.local is not None
        b = check.binding
        _, codes = _codes(self.local, b.value_set)
        if check.value in codes:
            return
        about = f"{b.strength} binding to {b.value_set}"
        text = f"{check.path}: the code '{check.value}' is not in the value set ({about})"
        if b.strength == "required":
            self.add("error", "code-invalid", check.path, text)
        else:
            self.add("warning", "code-invalid", check.path, text)

    async def run(self, checks: list[BindingCheck]) -> list[Issue]:
        pending: list[tuple[BindingCheck, ValidateCodeRequest]] = []
        for check in checks:
            b = check.binding
            if not self.terminology.knows_value_set(b.value_set):
                text = (
                    f"{check.path}: the {b.strength} binding to {b.value_set} could not be "
                    "checked: the value set is not known here"
                )
                self.add("warning", "not-found", check.path, text)
                continue
            if self.local is not None and check.kind in _TEXT_KINDS:
                self.bare_code(check)
                continue
            request = _request(check)
            if isinstance(request, str):
                if b.strength == "required":
                    text = f"{check.path} {request}; a code from {b.value_set} is required"
                    self.add("error", "required", check.path, text)
                continue
            pending.append((check, request))
        if self.local is not None:
            for check, request in pending:
                result: ValidateCodeResult | BaseException
                try:
                    result = _verdict(self.local, request)
                except Exception as exc:  # reported as a warning: never a 500 from a binding
                    result = exc
                self.outcome(check, request, result)
        elif pending:
            results = await asyncio.gather(
                *(self.terminology.validate_code_in_value_set(r) for _, r in pending),
                return_exceptions=True,
            )
            for (check, request), res in zip(pending, results, strict=True):
                self.outcome(check, request, res)
        return self.issues


async def binding_issues(
    checks: list[BindingCheck], terminology: TerminologyService, label: str
) -> list[Issue]:
    return await _Checker(terminology, label).run(checks)
