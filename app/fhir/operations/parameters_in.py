"""An operation's inputs, from a GET query string or a POST ``Parameters`` body, typed.

Both sources answer the same questions (``string("code")``, ``integer("count")``), so the
operations are written once. Errors name where the fault is: a GET parameter by its name, a
POST parameter by its FHIRPath in the body (``Parameters.parameter[2].value[x]``), since
that is where the client has to look. Inputs an operation does not know are ignored, as
HAPI and Ontoserver do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from starlette.requests import Request

from app.errors import InvalidRequest, StructureError
from app.fhir.negotiation import require_json_body
from app.fhir.request_body import read_body
from app.fhir.resource_body import check_resource, parse_json
from app.terminology.service import Coding

# The value[x] types a string-valued input may arrive as: clients differ on code vs string
# and uri vs canonical, and the difference carries no meaning for these operations.
_STRINGISH = (
    "valueString",
    "valueCode",
    "valueUri",
    "valueUrl",
    "valueCanonical",
    "valueId",
)
_INTEGERS = ("valueInteger", "valueUnsignedInt", "valuePositiveInt")
# Query parameters that are about the response, not the operation.
_FORMAT_PARAMETERS = frozenset({"_format", "_pretty"})


class OperationInputs(Protocol):
    def string(self, name: str) -> str | None: ...

    def strings(self, name: str) -> tuple[str, ...]:
        """A repeatable input (``property`` in $lookup)."""
        ...

    def boolean(self, name: str) -> bool | None: ...

    def integer(self, name: str) -> int | None:
        """A non-negative integer (``count``, ``offset``)."""
        ...

    def coding(self, name: str) -> Coding | None: ...

    def codeable_concept(self, name: str) -> tuple[Coding, ...] | None: ...

    def resource(self, name: str, res_type: str) -> dict[str, Any] | None: ...


class QueryInputs:
    """GET: only primitive inputs can be given (R4 operations.html#request)."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            if name not in _FORMAT_PARAMETERS:
                self._values.setdefault(name, []).append(value)

    def _single(self, name: str) -> str | None:
        values = self._values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequest(f"Parameter '{name}' may be given only once", expression=(name,))
        if not values[0]:
            raise InvalidRequest(f"Parameter '{name}' is empty", expression=(name,))
        return values[0]

    def string(self, name: str) -> str | None:
        return self._single(name)

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(v for v in self._values.get(name, ()) if v)

    def boolean(self, name: str) -> bool | None:
        value = self._single(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise InvalidRequest(
                f"Parameter '{name}' must be true or false, not '{value}'", expression=(name,)
            )
        return value == "true"

    def integer(self, name: str) -> int | None:
        value = self._single(name)
        if value is None:
            return None
        if not value.isdigit() or len(value) > 9:
            raise InvalidRequest(
                f"Parameter '{name}' must be a non-negative integer, not '{value}'",
                expression=(name,),
            )
        return int(value)

    def _complex(self, name: str, kind: str) -> None:
        """R4 operations.html#request: complex inputs need a POST; saying so beats ignoring."""
        if name in self._values:
            raise InvalidRequest(
                f"Parameter '{name}' is a {kind}: send it in a POST Parameters body",
                expression=(name,),
            )

    def coding(self, name: str) -> Coding | None:
        self._complex(name, "Coding")
        return None

    def codeable_concept(self, name: str) -> tuple[Coding, ...] | None:
        self._complex(name, "CodeableConcept")
        return None

    def resource(self, name: str, res_type: str) -> dict[str, Any] | None:
        self._complex(name, res_type)
        return None


class ParametersInputs:
    """POST: a ``Parameters`` resource, structurally valid, each input of its declared type."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._by_name: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, parameter in enumerate(body.get("parameter") or ()):
            self._by_name.setdefault(parameter["name"], []).append((index, parameter))

    def _all(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        return self._by_name.get(name, [])

    def _single(self, name: str) -> tuple[int, dict[str, Any]] | None:
        found = self._all(name)
        if not found:
            return None
        if len(found) > 1:
            raise InvalidRequest(
                f"Parameter '{name}' may be given only once",
                expression=tuple(f"Parameters.parameter[{i}]" for i, _ in found),
            )
        return found[0]

    @staticmethod
    def _value(name: str, index: int, parameter: dict[str, Any], keys: Sequence[str]) -> Any:
        for key in keys:
            if key in parameter:
                return parameter[key]
        given = next((k for k in parameter if k.startswith("value") or k == "resource"), None)
        wanted = " or ".join(keys[:2]) if len(keys) > 1 else keys[0]
        raise InvalidRequest(
            f"Parameter '{name}' must have {wanted}, not {given or 'no value'}",
            expression=(f"Parameters.parameter[{index}].value[x]",),
        )

    def string(self, name: str) -> str | None:
        found = self._single(name)
        if found is None:
            return None
        value: str = self._value(name, *found, _STRINGISH)
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self._value(name, i, p, _STRINGISH) for i, p in self._all(name))

    def boolean(self, name: str) -> bool | None:
        found = self._single(name)
        if found is None:
            return None
        value: bool = self._value(name, *found, ("valueBoolean",))
        return value

    def integer(self, name: str) -> int | None:
        found = self._single(name)
        if found is None:
            return None
        value: int = self._value(name, *found, _INTEGERS)
        if value < 0:
            raise InvalidRequest(
                f"Parameter '{name}' must not be negative",
                expression=(f"Parameters.parameter[{found[0]}].value[x]",),
            )
        return value

    def coding(self, name: str) -> Coding | None:
        found = self._single(name)
        if found is None:
            return None
        index, parameter = found
        data = self._value(name, index, parameter, ("valueCoding",))
        return _coding(data, f"Parameters.parameter[{index}].valueCoding")

    def codeable_concept(self, name: str) -> tuple[Coding, ...] | None:
        found = self._single(name)
        if found is None:
            return None
        index, parameter = found
        data = self._value(name, index, parameter, ("valueCodeableConcept",))
        where = f"Parameters.parameter[{index}].valueCodeableConcept"
        codings = data.get("coding") or []
        if not codings:
            raise InvalidRequest(
                f"Parameter '{name}' has no coding", expression=(f"{where}.coding",)
            )
        return tuple(_coding(c, f"{where}.coding[{i}]") for i, c in enumerate(codings))

    def resource(self, name: str, res_type: str) -> dict[str, Any] | None:
        found = self._single(name)
        if found is None:
            return None
        index, parameter = found
        data: dict[str, Any] = self._value(name, index, parameter, ("resource",))
        if data.get("resourceType") != res_type:
            raise InvalidRequest(
                f"Parameter '{name}' must be a {res_type}, not a {data.get('resourceType')}",
                expression=(f"Parameters.parameter[{index}].resource",),
            )
        return data  # its structure was checked with the Parameters body


def _coding(data: dict[str, Any], where: str) -> Coding:
    for element in ("system", "code"):
        if not data.get(element):
            raise InvalidRequest(f"The Coding has no {element}", expression=(f"{where}.{element}",))
    return Coding(
        system=data["system"],
        code=data["code"],
        display=data.get("display"),
        version=data.get("version"),
    )


def parameters_body(data: Any) -> dict[str, Any]:
    """Check that a parsed body is a structurally valid ``Parameters`` resource."""
    if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
        kind = data.get("resourceType") if isinstance(data, dict) else None
        raise StructureError(
            "An operation's POST body must be a Parameters resource"
            + (f", not a {kind}" if isinstance(kind, str) else ""),
            expression=("Parameters",),
        )
    return check_resource(data)


async def read_inputs(request: Request, max_body_bytes: int) -> OperationInputs:
    if request.method in ("GET", "HEAD"):
        return QueryInputs(request.query_params.multi_items())
    require_json_body(request)
    body = parse_json(await read_body(request, max_body_bytes))
    return ParametersInputs(parameters_body(body))
