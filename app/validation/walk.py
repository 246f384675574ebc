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

__all__ = ["DOMAIN_RESOURCE", "NOT_DOMAIN", "Node", "item_paths", "nodes"]

DOMAIN_RESOURCE: Final = "DomainResource"
# The three R4 resources that are not DomainResources (no text, contained, extension).
NOT_DOMAIN: Final = frozenset({"Bundle", "Parameters", "Binary"})


@dataclass(slots=True)
class Node:
    """A JSON object of a known R4 type: a resource, a backbone element or a complex value.

    Not frozen: a frozen dataclass pays ``object.__setattr__`` per field, and one is built
    for every object of every validated resource. Nothing changes a node once built."""

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
    # An explicit stack, not nested generators: a node deep in the tree would otherwise pass
    # through one suspended generator per level on its way out. Children are pushed in
    # reverse, so they come off in document order, as a recursive walk would yield them.
    stack = [Node(typedef, resource, typedef.name, resource, resource, True)]
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        yield node
        children = _children(node)
        if children:
            children.reverse()
            push(children)


def _resource_type(resource: dict[str, Any]) -> TypeDef | None:
    name = resource.get("resourceType")
    return load_definitions().resource(name) if type(name) is str else None


def _children(node: Node) -> list[Node]:
    """The typed objects directly inside ``node``, in document order."""
    found: list[Node] = []
    elements = node.typedef.elements
    path, resource, root = node.path, node.resource, node.root
    for key, value in node.obj.items():
        el = elements.get(key)
        if el is None or el.primitive is not None or value is None:
            continue
        where = f"{path}.{el.step}"
        if type(value) is list:
            items = [
                (item, f"{where}[{index}]")
                for index, item in enumerate(value)
                if type(item) is dict and item
            ]
        elif type(value) is dict and value:
            items = [(value, where)]
        else:
            continue
        for item, at in items:
            if el.is_resource:
                nested = _resource_type(item)
                if nested is None:
                    continue
                rid = item.get("id")
                marked = f"{at}/*{nested.name}/{rid if type(rid) is str else 'null'}*/"
                # A contained resource keeps its container as %rootResource; a Bundle entry
                # or Parameters resource stands alone.
                nested_root = root if key == "contained" else item
                found.append(Node(nested, item, marked, item, nested_root, True))
            elif el.complex is not None:
                found.append(Node(el.complex, item, at, resource, root))
    return found
