"""Reading the entries of a batch or transaction Bundle, and rewriting references in them.

Parsing and structural validation of every entry happen before any database work, so a bad
entry fails fast and names its place (``Bundle.entry[3].resource.birthDate``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from app.errors import FhirError, InvalidRequest, StructureError
from app.fhir.resource_body import check_resource
from app.model.resource_types import is_resource_type, is_valid_id

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# The spec's processing order for transactions: DELETE, POST, PUT/PATCH, GET/HEAD.
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


@dataclass(slots=True)
class Entry:
    index: int
    method: str
    res_type: str
    res_id: str | None
    version: str | None
    query: list[tuple[str, str]] | None
    """The criteria when the URL has a query (conditional update/delete, search)."""
    full_url: str | None
    resource: dict[str, Any] | None
    patch: Any
    if_match: str | None
    if_none_exist: str | None
    if_none_match: str | None
    fresh_id: bool = False
    """True when the server just generated res_id (nothing can exist under it yet)."""

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"


def _fail(index: int, message: str, suffix: str = "") -> FhirError:
    return InvalidRequest(
        f"Bundle.entry[{index}]: {message}", expression=(f"Bundle.entry[{index}]{suffix}",)
    )


def _split_url(index: int, url: str, base: str) -> tuple[str, str | None, str | None, Any]:
    if url.startswith(base + "/"):
        url = url[len(base) + 1 :]
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise _fail(index, f"request.url '{url}' is not on this server", ".request.url")
    segments = [s for s in parts.path.strip("/").split("/") if s]
    query = parse_qsl(parts.query, keep_blank_values=True) if parts.query else None
    if not segments or not is_resource_type(segments[0]):
        raise _fail(index, f"request.url '{url}' does not name an R4 resource type", ".request.url")
    res_id = segments[1] if len(segments) > 1 else None
    version = segments[3] if len(segments) == 4 and segments[2] == "_history" else None
    if (res_id is not None and not is_valid_id(res_id)) or len(segments) not in (1, 2, 4):
        raise _fail(index, f"request.url '{url}' is not a valid FHIR URL", ".request.url")
    return segments[0], res_id, version, query


def _patch_body(index: int, resource: Any) -> Any:
    """A JSON Patch carried as a Binary (the R4 way to put JSON Patch in a Bundle)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Binary":
        raise _fail(
            index, "a PATCH entry needs a Binary resource holding a JSON Patch", ".resource"
        )
    try:
        return orjson.loads(base64.b64decode(resource.get("data", ""), validate=True))
    except (binascii.Error, orjson.JSONDecodeError) as exc:
        raise _fail(
            index, f"the Binary does not hold a JSON Patch: {exc}", ".resource.data"
        ) from exc


def parse_entry(index: int, raw: Any, base: str) -> Entry:
    if not isinstance(raw, dict):
        raise StructureError(f"Bundle.entry[{index}] must be an object")
    request = raw.get("request")
    if not isinstance(request, dict):
        raise _fail(index, "request is required in a batch or transaction", ".request")
    method, url = request.get("method"), request.get("url")
    if method not in METHODS:
        raise _fail(index, f"request.method must be one of {', '.join(METHODS)}", ".request.method")
    if not isinstance(url, str) or not url:
        raise _fail(index, "request.url is required", ".request.url")
    res_type, res_id, version, query = _split_url(index, url, base)
    if method == "PUT" and res_id is None and query is None:
        raise _fail(index, "a PUT needs Type/id or Type?criteria in request.url", ".request.url")
    for name in ("ifMatch", "ifNoneExist", "ifNoneMatch"):
        if not isinstance(request.get(name, ""), str):
            raise _fail(index, f"request.{name} must be a string", f".request.{name}")
    if not isinstance(raw.get("fullUrl", ""), str):
        raise _fail(index, "fullUrl must be a string", ".fullUrl")
    resource, patch = raw.get("resource"), None
    if method == "PATCH":
        patch, resource = _patch_body(index, resource), None
    elif method in ("POST", "PUT"):
        if resource is None:
            raise _fail(index, f"a {method} entry needs a resource", ".resource")
        resource = check_resource(
            resource, expected_type=res_type, expression_prefix=f"Bundle.entry[{index}].resource."
        )
    return Entry(
        index,
        method,
        res_type,
        res_id,
        version,
        query,
        raw.get("fullUrl"),
        resource,
        patch,
        request.get("ifMatch"),
        request.get("ifNoneExist"),
        request.get("ifNoneMatch"),
    )


def rewrite_references(node: Any, mapping: dict[str, str]) -> list[str]:
    """Replace mapped reference strings in place; return the conditional references seen.

    Written as a flat loop with exact type checks: it visits every node of every resource in
    a transaction, so it sits on the ingest hot path.
    """
    conditional: list[str] = []
    stack: list[Any] = [node]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        values = item.values() if type(item) is dict else item
        if type(item) is dict:
            ref = item.get("reference")
            if type(ref) is str:
                if ref in mapping:
                    item["reference"] = mapping[ref]
                elif "?" in ref and not ref.startswith(("http:", "https:", "urn:")):
                    conditional.append(ref)
        for value in values:
            kind = type(value)
            if kind is dict or kind is list:
                push(value)
    return conditional
