"""Content negotiation: which JSON flavour to answer with, and which bodies we accept.

We speak FHIR JSON only. XML (or anything else) requested through ``_format`` or ``Accept``
is a 406; a body in another format is a 415. Both come back as OperationOutcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from app.errors import NotAcceptable, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
JSON = "application/json"
JSON_PATCH = "application/json-patch+json"
_FORMAT_ALIASES = {
    "json": FHIR_JSON,
    FHIR_JSON: FHIR_JSON,
    JSON: JSON,
    "text/json": JSON,
}
_ACCEPTABLE = {FHIR_JSON, JSON, "application/*", "*/*", "text/json"}


@dataclass(frozen=True, slots=True)
class OutputFormat:
    media_type: str
    pretty: bool

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"


DEFAULT_OUTPUT = OutputFormat(FHIR_JSON, pretty=False)
_PLAIN_ACCEPT = {None, "*/*", FHIR_JSON, "application/fhir+json, */*"}


def _media_types(header: str) -> list[str]:
    """Media types in an Accept header, ignoring parameters other than q=0."""
    types = []
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if any(p.replace(" ", "") in ("q=0", "q=0.0") for p in params):
            continue
        if media:
            types.append(media.lower())
    return types


def output_format(request: Request) -> OutputFormat:
    if not request.scope["query_string"] and request.headers.get("accept") in _PLAIN_ACCEPT:
        return DEFAULT_OUTPUT  # the common case, without parsing anything
    query = request.query_params
    pretty = query.get("_pretty") == "true"
    fmt = query.get("_format")
    if fmt is not None:
        media = _FORMAT_ALIASES.get(fmt.split(";")[0].strip().lower())
        if media is None:
            raise NotAcceptable(
                f"_format '{fmt}' is not supported; this server speaks FHIR JSON "
                "(json, application/fhir+json, application/json)",
                expression=("_format",),
            )
        return OutputFormat(media, pretty)
    accept = request.headers.get("accept")
    if not accept:
        return OutputFormat(FHIR_JSON, pretty)
    types = _media_types(accept)
    if not types or FHIR_JSON in types or any(t in _ACCEPTABLE - {JSON} for t in types):
        return OutputFormat(FHIR_JSON, pretty)
    if JSON in types:
        return OutputFormat(JSON, pretty)
    raise NotAcceptable(
        f"None of the accepted types ({accept}) can be produced; this server speaks "
        "application/fhir+json and application/json"
    )


def require_json_body(request: Request, *, allowed: tuple[str, ...] = (FHIR_JSON, JSON)) -> None:
    """415 unless the body's Content-Type is one we read; a missing type is read as JSON."""
    header = request.headers.get("content-type")
    if header is None:
        return
    media = header.split(";")[0].strip().lower()
    if media in allowed or media == "text/json":
        return
    raise UnsupportedMediaType(
        f"Content-Type '{header}' is not supported here; send {' or '.join(allowed)}"
    )
