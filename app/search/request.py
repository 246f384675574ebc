"""Parse a search query string into a SearchRequest (pure: no I/O).

Unknown parameters are collected, never dropped silently: the caller reports them (lenient)
or rejects the request (``Prefer: handling=strict``). An unsupported modifier or a malformed
value is always an error, as the spec requires.

Chains (``subject:Patient.name=x``) and reverse chains (``_has:Observation:subject:code=x``)
become one Clause whose ``chain`` lists the reference hops from the searched type to the
type the leaf parameter is evaluated on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.errors import InvalidRequest
from app.search import parameters
from app.search.compartments import Compartment
from app.search.criteria import (
    DateValue,
    TokenValue,
    split_escaped,
    unescape,
)
from app.search.include import IncludeSpec, parse_include
from app.search.leaf_values import parse_values
from app.search.param_meta import targets
from app.search.parameters import RESULT_PARAMETERS, SearchParameter
from app.search.sort import SORTABLE, SortKey
from app.search.summary import Subset, parse_elements, parse_summary

TOTAL_MODES = ("none", "estimate", "accurate")

__all__ = ["Clause", "DateValue", "Link", "SearchRequest", "TokenValue", "parse_search"]


@dataclass(frozen=True, slots=True)
class Link:
    """One reference hop. ``forward``: rows of ``types`` whose ``param`` points onwards;
    reverse (``_has``): rows of ``types`` whose ``param`` points back at the current level."""

    forward: bool
    param: str
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Clause:
    """One parameter occurrence: its values are ORed; clauses are ANDed."""

    param: str
    type: str
    modifier: str | None
    values: tuple[object, ...]
    raw: str
    types: tuple[str, ...] = ()
    """The resource types the leaf parameter is evaluated on (empty: any type)."""
    chain: tuple[Link, ...] = ()


@dataclass(slots=True)
class SearchRequest:
    res_type: str | None
    clauses: list[Clause] = field(default_factory=list)
    count: int = 50
    cursor: str | None = None
    total: str = "none"
    summary_count: bool = False
    summary: str | None = None
    """``_summary`` other than ``count``: ``true``, ``text``, ``data`` or ``false``."""
    elements: tuple[str, ...] | None = None
    """``_elements``: the top-level element names asked for (None: not given)."""
    types: tuple[str, ...] = ()
    unknown: list[str] = field(default_factory=list)
    echo: list[tuple[str, str]] = field(default_factory=list)
    """The (name, value) pairs applied, in order, for the self link."""
    sort: tuple[SortKey, ...] = ()
    includes: tuple[IncludeSpec, ...] = ()
    compartment: Compartment | None = None
    """Restrict to one compartment instance (``GET [base]/Patient/123/ServiceRequest``)."""

    @property
    def subset(self) -> Subset:
        """What ``_summary``/``_elements`` keep of each matched resource."""
        return Subset(self.summary, self.elements)


def _result_parameter(request: SearchRequest, name: str, value: str, max_count: int) -> None:
    if name == "_count":
        if not value.isdigit():
            raise InvalidRequest(f"_count must be a non-negative integer, got '{value}'")
        request.count = min(int(value), max_count)
        request.echo.append((name, str(request.count)))
    elif name == "_cursor":
        request.cursor = value
    elif name == "_total":
        if value not in TOTAL_MODES:
            raise InvalidRequest(f"_total must be one of {', '.join(TOTAL_MODES)}, got '{value}'")
        request.total = value
        request.echo.append((name, value))
    elif name == "_summary":
        if parse_summary(value) == "count":
            request.summary_count = True
        else:
            request.summary = value
        request.echo.append((name, value))
    elif name == "_elements":
        names = parse_elements(value)
        if names:  # an empty _elements asks for nothing in particular: not applied
            request.elements = (*(request.elements or ()), *names)
            request.echo.append((name, value))
    elif name == "_type":
        request.types = tuple(unescape(t) for t in split_escaped(value, ","))
        request.echo.append((name, value))


def _sort(request: SearchRequest, value: str) -> None:
    """``_sort=a,-b``: type-level only, on parameters with an orderable index value."""
    keys, applied = [], []
    for item in (unescape(v) for v in split_escaped(value, ",")):
        code = item.removeprefix("-")
        param = parameters.parameters_for(request.res_type).get(code) if request.res_type else None
        if param is None or param.type not in SORTABLE:
            request.unknown.append(f"_sort={item}")
            continue
        keys.append(SortKey(code, param.type, item.startswith("-")))
        applied.append(item)
    if keys:
        request.sort = (*request.sort, *keys)
        request.echo.append(("_sort", ",".join(applied)))


def _lookup(types: tuple[str, ...], code: str) -> SearchParameter | None:
    """The parameter ``code`` on every one of ``types`` (resource-level ones when untyped)."""
    found = None
    for res_type in types or ("Resource",):
        param = parameters.parameters_for(res_type).get(code)
        if param is None:
            return None
        found = found or param
    return found


class _Parser:
    def __init__(self, known_types: frozenset[str], base: str | None) -> None:
        self.known_types = known_types
        self.base = base

    def clause(
        self, types: tuple[str, ...], lookup: tuple[str, ...], name: str, value: str
    ) -> Clause | None:
        """The clause for ``name=value`` on ``types``; None when the parameter is unknown."""
        if name.startswith("_has:"):
            return self._reverse(name, value)
        head, dot, rest = name.partition(".")
        base, _, modifier = head.partition(":")
        param = _lookup(lookup, base)
        if param is None:
            return None
        if dot:
            return self._forward(types, param, modifier or None, rest, value, name)
        values = parse_values(
            param, base, modifier or None, value, known_types=self.known_types, base=self.base
        )
        return Clause(base, param.type, modifier or None, values, value, types=types)

    def _forward(  # noqa: PLR0917 (one call site, each argument a distinct part of the name)
        self,
        types: tuple[str, ...],
        param: SearchParameter,
        modifier: str | None,
        rest: str,
        value: str,
        name: str,
    ) -> Clause | None:
        if param.type != "reference":
            raise InvalidRequest(
                f"'{param.code}' is not a reference parameter and cannot be chained",
                expression=(name,),
            )
        if modifier and modifier not in self.known_types:
            raise InvalidRequest(
                f"Chain '{name}': ':{modifier}' is not a resource type", expression=(name,)
            )
        candidates = (modifier,) if modifier else targets(param)
        next_base = rest.partition(".")[0].partition(":")[0]
        found = tuple(
            t
            for t in candidates
            if t in self.known_types
            and (next_base == "_has" or next_base in parameters.parameters_for(t))
        )
        if not found:
            return None
        inner = self.clause(found, found, rest, value)
        if inner is None:
            return None
        return replace(inner, chain=(Link(True, param.code, types), *inner.chain))

    def _reverse(self, name: str, value: str) -> Clause | None:
        parts = name.split(":", 3)
        if len(parts) < 4 or not all(parts):
            raise InvalidRequest(
                f"'{name}': _has takes _has:Type:reference-parameter:parameter=value",
                expression=(name,),
            )
        _, has_type, ref_code, rest = parts
        if has_type not in self.known_types:
            raise InvalidRequest(f"'{name}': unknown resource type '{has_type}'", (name,))
        ref = parameters.parameters_for(has_type).get(ref_code)
        if ref is None:
            return None
        if ref.type != "reference":
            raise InvalidRequest(f"'{name}': '{ref_code}' is not a reference parameter", (name,))
        inner = self.clause((has_type,), (has_type,), rest, value)
        if inner is None:
            return None
        return replace(inner, chain=(Link(False, ref_code, (has_type,)), *inner.chain))


def parse_search(
    res_type: str | None,
    params: list[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    known_types: frozenset[str],
    base: str | None = None,
) -> SearchRequest:
    """Parse ``params``; ``base`` (this server's URL) lets absolute references to it match."""
    request = SearchRequest(res_type=res_type, count=min(default_count, max_count))
    parser = _Parser(known_types, base)
    for name, value in params:
        if name == "_type":
            request.types = tuple(unescape(t) for t in split_escaped(value, ","))
    for name in request.types:
        if name not in known_types:
            raise InvalidRequest(f"Unknown resource type '{name}' in _type", expression=("_type",))
    types = (res_type,) if res_type else request.types
    lookup = (res_type,) if res_type else ()
    for name, value in params:
        base = name.partition(":")[0]
        if name == "_sort":
            _sort(request, value)
            continue
        if base in ("_include", "_revinclude"):
            spec = parse_include(name, value, known_types)
            if spec is None:
                request.unknown.append(f"{name}={value}")
            else:
                request.includes = (*request.includes, spec)
                request.echo.append((name, value))
            continue
        if base in RESULT_PARAMETERS:
            if base not in ("_format", "_pretty"):
                _result_parameter(request, base, value, max_count)
            continue
        clause = parser.clause(types, lookup, name, value)
        if clause is None:
            request.unknown.append(name)
            continue
        request.clauses.append(clause)
        request.echo.append((name, value))
    return request
