"""Compartments: which search parameters link a resource to a Patient (R4 CompartmentDefinition).

``GET [base]/Patient/{id}/ServiceRequest`` searches ServiceRequests that reference that
patient through any of the compartment's parameters (subject, performer). Only the Patient
compartment is defined for now; it is the one every SMART patient-context rule builds on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson

from app.search.parameters import parameters_for

_DEFINITION = Path(__file__).parent / "definitions" / "compartment-patient.json"


@dataclass(frozen=True, slots=True)
class Compartment:
    """The search restriction for one compartment instance (e.g. Patient/123)."""

    code: str
    res_id: str
    params: tuple[str, ...]
    implicit: bool = False
    """Added by access control (a patient-context token), not asked for in the URL: links
    keep the form the client used."""


@cache
def _patient_members() -> dict[str, tuple[str, ...]]:
    data = orjson.loads(_DEFINITION.read_bytes())
    return {code: tuple(params) for code, params in data["resources"].items()}


@cache
def compartment_url(code: str) -> str | None:
    return "http://hl7.org/fhir/CompartmentDefinition/patient" if code == "Patient" else None


def compartment_params(code: str, res_type: str) -> tuple[str, ...]:
    """The reference parameters of ``res_type`` that place it in a ``code`` compartment.

    Empty when the type is not a member (or the compartment is not defined here). Only
    parameters we index (reference type) are returned.
    """
    if code != "Patient":
        return ()
    supported = parameters_for(res_type)
    return tuple(
        p
        for p in _patient_members().get(res_type, ())
        if p in supported and supported[p].type == "reference"
    )
