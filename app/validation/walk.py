"""One typed pass over a resource for the rule layers (invariants, core bindings).

The structural walk (`structural.py`) reports what is malformed; the rule layers run after it
and only need every JSON object with its R4 type, its FHIRPath location and the resources it
sits in. This walker yields exactly that and silently steps over anything malformed
(unknown keys, wrong JSON kinds), which the structural layer has already reported, so a
rule never crashes on bad input.

Locations use the structural walker's style: ``Observation.referenceRange[0]``,
``Bundle.entry[0].resource/*Patient/p1*/.name[0]``, ``Observation.value.ofType(Quantity)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from app.validation.definitions import ElementDef, TypeDef, load_definitions

__all__ = ["DOMAIN_RESOURCE", "Node", "item_paths", "nodes"]

DOMAIN_RESOURCE: Final = "DomainResource"
# The three R4 resources that are not DomainResources (no text, contained, extension).
NOT_DOMAIN: Final = frozenset({"Bundle", "Parameters", "Binary"})


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON object of a known R4 type: a resource, a backbone element or a complex value."""

    typedef: TypeDef
    obj: dict[str, Any]
    path: str
    # The resource the object belongs to (%resource) and the outermost resource of a
    # contained chain (%rootResource); for a Bundle entry both are the entry's resource.
    resource: dict[str, Any]
    root: dict[str, Any]
    is_resource: bool = False

    @property
    def is_domain_resource(self) -> bool:
        return self.is_resource and self.typedef.name not in NOT_DOMAIN


def item_paths(value: Any, el: ElementDef, path: str) -> Iterator[tuple[Any, str]]:
    """The values of one property with their FHIRPath locations (indexed when a list)."""
    where = f"{path}.{el.step}"
    if type(value) is list:
        for index, item in enumerate(value):
            if item is not None:
                yield item, f"{where}[{index}]"
    elif value is not None:
        yield value, where


def nodes(resource: Any) -> Iterator[Node]:
    """Every typed object in ``resource`` (itself first), depth first, nested resources
    included; nothing is yielded for a resource whose type is unknown."""
    if type(resource) is not dict:
        return
    typedef = _resource_type(resource)
    if typedef is None:
        return
    yield from _walk(resource, typedef, typedef.name, resource, resource, is_resource=True)


def _resource_type(resource: dict[str, Any]) -> TypeDef | None:
    name = resource.get("resourceType")
    return load_definitions().resource(name) if type(name) is str else None


def _walk(
    obj: dict[str, Any],
    typedef: TypeDef,
    path: str,
    resource: dict[str, Any],
    root: dict[str, Any],
    *,
    is_resource: bool = False,
) -> Iterator[Node]:
    yield Node(typedef, obj, path, resource, root, is_resource)
    elements = typedef.elements
    for key, value in obj.items():
        el = elements.get(key)
        if el is None or el.primitive is not None:
            continue
        for item, where in item_paths(value, el, path):
            if type(item) is not dict or not item:
                continue
            if el.is_resource:
                nested = _resource_type(item)
                if nested is None:
                    continue
                rid = item.get("id")
                at = f"{where}/*{nested.name}/{rid if type(rid) is str else 'null'}*/"
                # A contained resource keeps its container as %rootResource; a Bundle entry
                # or Parameters resource stands alone.
                nested_root = root if key == "contained" else item
                yield from _walk(item, nested, at, item, nested_root, is_resource=True)
            elif el.complex is not None:
                yield from _walk(item, el.complex, where, resource, root)
