"""An AccessEvent as an R4 AuditEvent: a pure function, so the trail can build events in a
background batch and tests can check every field without a database.

Codes, per the R4 AuditEvent page ("FHIR REST" scenarios): ``type`` is DICOM ``rest``;
``subtype`` the restful-interaction. The R4 ``action`` definition puts queries under ``E``
(Execute), so searches, operations and Bundles are ``E``; reads and history are ``R``.
Ingest and metrics requests are outside the FHIR REST API: their subtype is a code of our own
system (``AUDIT_SUBTYPE_SYSTEM``); an operation carries its name (``$validate``) there too,
next to restful-interaction ``operation``, and so does a router code that restful-interaction
lacks (``conditional-update``, next to ``update``).
"""

from __future__ import annotations

import base64
import ipaddress
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from app.auth.access import AccessEvent, Principal
from app.search.dates import format_instant

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AUDIT_SUBTYPE_SYSTEM = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/audit-subtype"
"""Our subtypes: ``ingest``, ``metrics``, ``unknown`` (no route matched), operation names
(``$validate``) and the router's finer codes (``conditional-update``, ``search-compartment``)."""
CLIENT_ID_SYSTEM = "urn:ietf:params:oauth:client-id"
_ACTION = "http://hl7.org/fhir/audit-event-action"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_DICOM = "http://dicom.nema.org/resources/ontology/DCM"

_ACTIONS = {
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "read": "R",
    "vread": "R",
    "capabilities": "R",
    "history": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "search": "E",
    "search-type": "E",
    "search-system": "E",
    "transaction": "E",
    "batch": "E",
    "operation": "E",
    "metrics": "E",
}
_INTERACTIONS = {code: code for code in _ACTIONS if code != "metrics"} | {
    "conditional-create": "create",
    "conditional-update": "update",
    "conditional-patch": "patch",
    "conditional-delete": "delete",
    "search-compartment": "search",
}
"""Router interaction codes -> http://hl7.org/fhir/restful-interaction codes."""
_BY_METHOD = {"GET": "R", "HEAD": "R", "POST": "C", "PUT": "U", "PATCH": "U", "DELETE": "D"}
_SEARCHES = frozenset({"search", "search-type", "search-system", "search-compartment"})


def _action(event: AccessEvent) -> str:
    """C/R/U/D/E; ingest goes by method (a POST stores a message: C), except a replay,
    which re-runs a stored one (E)."""
    if event.interaction == "ingest" and event.method == "POST" and event.path.endswith("/replay"):
        return "E"
    found = _ACTIONS.get(_INTERACTIONS.get(event.interaction, event.interaction))
    return found or _BY_METHOD.get(event.method.upper(), "E")


def _subtype(event: AccessEvent) -> list[dict[str, str]]:
    """The restful-interaction code; a router code that is not one (``conditional-update``,
    ``search-compartment``) maps to its parent and is kept in our system, as is anything
    without a restful-interaction (``ingest``, ``metrics``, ``unknown``)."""
    code = _INTERACTIONS.get(event.interaction)
    if code is None:
        return [{"system": AUDIT_SUBTYPE_SYSTEM, "code": event.interaction or "unknown"}]
    codings = [{"system": RESTFUL_INTERACTION, "code": code}]
    if code != event.interaction:
        codings.append({"system": AUDIT_SUBTYPE_SYSTEM, "code": event.interaction})
    if event.interaction == "operation":
        name = next((p for p in reversed(event.path.split("/")) if p.startswith("$")), None)
        if name and len(name) > 1:
            codings.append({"system": AUDIT_SUBTYPE_SYSTEM, "code": name})
    return codings


def _outcome(status: int) -> str:
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return "8"
    return "4" if status >= HTTPStatus.BAD_REQUEST else "0"


@lru_cache(maxsize=128)
def _outcome_desc(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _relative(reference: str, base: str) -> str:
    """``<base>/Practitioner/1`` as ``Practitioner/1``, so that ``agent=Practitioner/1``
    finds it; a reference to another server stays absolute."""
    prefix = base.rstrip("/") + "/"
    return reference[len(prefix) :] if reference.startswith(prefix) else reference


def _client(principal: Principal) -> dict[str, Any]:
    return {"identifier": {"system": CLIENT_ID_SYSTEM, "value": principal.client_id}}


@lru_cache(maxsize=1024)
def _network(address: str) -> dict[str, str]:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"address": address, "type": "1"}  # machine name
    return {"address": address, "type": "2"}  # IP address


def _agents(event: AccessEvent, base: str) -> list[dict[str, Any]]:
    """The requestor (the user when the token names one, else the client); with a user, the
    client application is a second, non-requesting agent."""
    principal = event.principal
    requestor: dict[str, Any] = {}
    if principal.fhir_user:
        requestor["who"] = {"reference": _relative(principal.fhir_user, base)}
    else:
        requestor["who"] = _client(principal)
    if principal.subject:
        requestor["altId"] = principal.subject
    requestor["name"] = _relative(principal.label, base)
    requestor["requestor"] = True
    if principal.token_id:
        requestor["policy"] = [principal.token_id]
    if event.address:
        requestor["network"] = dict(_network(event.address))
    agents = [requestor]
    if principal.fhir_user:
        application = {"system": _DICOM, "code": "110150", "display": "Application"}
        agents.append(
            {
                "type": {"coding": [application]},
                "who": _client(principal),
                "name": principal.client_id,
                "requestor": False,
            }
        )
    return agents


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


_PERSON = _coding(_ENTITY_TYPE, "1", "Person")
_SYSTEM_OBJECT = _coding(_ENTITY_TYPE, "2", "System Object")
_PATIENT_ROLE = _coding(_OBJECT_ROLE, "1", "Patient")
_RESOURCE_ROLE = _coding(_OBJECT_ROLE, "4", "Domain Resource")
_QUERY_ROLE = _coding(_OBJECT_ROLE, "24", "Query")


def _patient_entity(patient_id: str) -> dict[str, Any]:
    return {"what": {"reference": f"Patient/{patient_id}"}, "type": _PERSON, "role": _PATIENT_ROLE}


def _entities(event: AccessEvent) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    patients = list(dict.fromkeys(p for p in event.patients if p))
    if event.res_type and event.res_id:
        if event.res_type == "Patient":
            entities.append(_patient_entity(event.res_id))
            patients = [p for p in patients if p != event.res_id]
        else:
            what = {"reference": f"{event.res_type}/{event.res_id}"}
            entities.append({"what": what, "type": _SYSTEM_OBJECT, "role": _RESOURCE_ROLE})
    if event.query or event.interaction in _SEARCHES:
        query: dict[str, Any] = {"type": _SYSTEM_OBJECT, "role": _QUERY_ROLE}
        query["description"] = f"{event.method} {event.path}"
        if event.query:
            query["query"] = base64.b64encode(event.query.encode()).decode("ascii")
        entities.append(query)
    entities.extend(_patient_entity(p) for p in patients)
    return entities


def build_audit_event(event: AccessEvent, *, base: str, observer: str) -> dict[str, Any]:
    """The AuditEvent for one access (no id or meta: the trail assigns them when it stores).

    ``base`` is the FHIR base URL (the source's site; fhirUser references under it are made
    relative); ``observer`` names this service in ``source.observer``.
    """
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        "subtype": _subtype(event),
        "action": _action(event),
        "recorded": format_instant(event.recorded),
        "outcome": _outcome(event.status),
        "outcomeDesc": _outcome_desc(event.status),
        "agent": _agents(event, base),
        "source": {
            "site": base,
            "observer": {"display": observer},
            "type": [_coding(_SOURCE_TYPE, "4", "Application Server")],
        },
    }
    entities = _entities(event)
    if entities:
        resource["entity"] = entities
    return resource
