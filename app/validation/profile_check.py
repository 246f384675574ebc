"""One resource checked against one compiled profile: a single walk, then one binding pass.

The walk (`_Walk`) follows the pruned element tree from `profiles.py` through the JSON and
reports cardinality (of elements and of slices), fixed and pattern values, choice variants
the profile does not allow, reference target types, closed and ordered slicing, extension
definitions, the profile's own invariants and absent must-support elements. Coded elements
under a required or extensible binding are only collected on the way; `profile_bindings.py`
checks them all afterwards, through the terminology service.

It assumes the resource passed structural validation (`structural.py`): JSON kinds, base
cardinality and element names are already right, so a list here is always a repeating
element and every `value...` key is a valid variant of some choice. Locations use the
structural walker's FHIRPath style (`ServiceRequest.identifier[1].system`,
`Procedure.performed.ofType(Period)`, a missing element at its parent path + name).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Final

from app.errors import Issue
from app.terminology.service import TerminologyService
from app.validation.definitions import load_definitions
from app.validation.profile_bindings import BindingCheck, binding_issues
from app.validation.profile_invariants import holds
from app.validation.profile_model import CompiledProfile, Node

__all__ = ["check_profile", "contains_pattern"]

_LITERAL_REF: Final = re.compile(
    r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)

_Item = tuple[Any, str, str | None]  # value, FHIRPath, type code


@cache
def _primitive_suffixes() -> dict[str, str]:
    """`DateTime` -> `dateTime`: a choice key's suffix back to the FHIR type code."""
    return {name[0].upper() + name[1:]: name for name in load_definitions().primitives}


def contains_pattern(instance: Any, pattern: Any) -> bool:
    """FHIR pattern[x] matching: every pattern property present with a matching value, and for
    arrays every pattern item matched by some instance item."""
    # Plain loops rather than all()/any() over generators: slicing calls this per item and
    # per slice, and it recurses through every level of the pattern.
    if type(pattern) is dict:
        if type(instance) is not dict:
            return False
        for k, v in pattern.items():
            if k not in instance or not contains_pattern(instance[k], v):
                return False
        return True
    if type(pattern) is list:
        if type(instance) is not list:
            return False
        for p in pattern:
            for i in instance:
                if contains_pattern(i, p):
                    break
            else:
                return False
        return True
    if type(instance) is type(pattern):
        return bool(instance == pattern)
    numbers = (int, float)
    return type(instance) in numbers and type(pattern) in numbers and instance == pattern


def _collect(value: Any, steps: tuple[str, ...]) -> list[Any]:
    current = [value]
    for step in steps:
        found: list[Any] = []
        for v in current:
            if type(v) is dict:
                x = v.get(step)
                if type(x) is list:
                    found.extend(x)
                elif x is not None:
                    found.append(x)
        current = found
    return current


def _show(value: Any) -> str:
    import orjson

    text = orjson.dumps(value).decode()
    return text if len(text) <= 200 else text[:197] + "..."


class _Walk:
    __slots__ = ("bindings", "issues", "label", "resource")

    def __init__(self, resource: dict[str, Any], profile: CompiledProfile) -> None:
        self.resource = resource
        self.label = f"(profile {profile.name})"
        self.issues: list[Issue] = []
        self.bindings: list[BindingCheck] = []

    def report(self, severity: str, code: str, path: str, text: str) -> None:
        self.issues.append(Issue(severity, code, f"{text} {self.label}", (path,)))

    # -- elements --------------------------------------------------------------------------

    def element(self, node: Node, obj: dict[str, Any], path: str) -> None:
        where = f"{path}.{node.name}"
        if node.choice_prefix:
            items = self.choice_items(node, obj, path)
        else:
            value = obj.get(node.name)
            type_code = node.types[0] if node.types else None
            if value is None or type(value) is list:
                items = _items(obj, node.name, where, type_code)
            else:
                items = [(value, where, type_code)]  # the common case, without a call
        count = len(items)
        if count < node.min:
            text = f"{where}: minimum required = {node.min}, but only found {count}"
            self.report("error", "required", where, text)
        elif 0 <= node.max < count:
            text = f"{where}: maximum allowed = {node.max}, but found {count}"
            self.report("error", "structure", where, text)
        if count == 0 and node.must_support:
            text = f"must-support element {where} is absent"
            self.report("information", "informational", where, text)
        if node.slices or node.slicing_rules == "closed":
            self.slicing(node, items, where)
        for value, item_path, type_code in items:
            if value is not None:
                self.item(node, value, item_path, type_code)

    def choice_items(self, node: Node, obj: dict[str, Any], path: str) -> list[_Item]:
        prefix = node.choice_prefix
        size = len(prefix)
        allowed = node.choice_keys
        items: list[_Item] = []
        for key, value in obj.items():
            if not key.startswith(prefix) or len(key) <= size or not key[size].isupper():
                continue
            suffix = key[size:]
            type_code = _primitive_suffixes().get(suffix, suffix)
            item_path = f"{path}.{prefix}.ofType({type_code})"
            if allowed is not None and key not in allowed:
                shown = ", ".join(sorted(allowed.values()))
                text = f"{item_path}: type {type_code} is not allowed here (allowed: {shown})"
                self.report("error", "structure", item_path, text)
                # Counted, but the variant's other rules do not apply to it.
                items.append((None, item_path, type_code))
            else:
                items.append((value, item_path, type_code))
        if not items:  # a primitive variant present only through its `_valueX` extensions
            for key in obj:
                if key.startswith(f"_{prefix}") and len(key) > size + 1 and key[size + 1].isupper():
                    items.append((None, f"{path}.{prefix}", None))
        return items

    def item(self, node: Node, value: Any, path: str, type_code: str | None) -> None:
        if node.fixed is not None and value != node.fixed:
            text = f"{path}: value must be exactly {_show(node.fixed)}, got {_show(value)}"
            self.report("error", "value", path, text)
        if node.pattern is not None and not contains_pattern(value, node.pattern):
            text = f"{path}: value must match the pattern {_show(node.pattern)}"
            self.report("error", "value", path, text)
        if node.targets is not None and type(value) is dict:
            self.reference(node.targets, value, path)
        if node.binding is not None:
            kind = type_code or (node.types[0] if node.types else "code")
            self.bindings.append(BindingCheck(node.binding, kind, value, path))
        for invariant in node.invariants:
            if not holds(invariant, value, path, self.resource):
                text = f"{invariant.key}: {invariant.human}"
                self.report(invariant.severity, "invariant", path, text)
        if node.ext_profile is not None:
            if node.ext_root is not None:
                self.item(node.ext_root, value, path, "Extension")
            else:
                text = f"{path}: extension definition {node.ext_profile} is not known here"
                self.report("warning", "not-found", path, text)
        if node.children and type(value) is dict:
            self.children(node, value, path)

    def children(self, node: Node, value: dict[str, Any], path: str) -> None:
        """Each child element but those that cannot say anything here, which are most of
        them: visiting one costs a call, a path and a list."""
        for child in node.children.values():
            present = value.get(child.name)
            if present is None:
                if child.quiet_absent and f"_{child.name}" not in value:
                    continue  # absent, and nothing to say about that
            elif child.quiet_present:
                count = len(present) if type(present) is list else 1
                if count > 0 and child.min <= count and (child.max < 0 or count <= child.max):
                    continue  # nothing to check in the values, and the count is right
            self.element(child, value, path)

    # -- slicing ---------------------------------------------------------------------------

    def slicing(self, node: Node, items: list[_Item], where: str) -> None:
        slices = node.slices
        counts = [0] * len(slices)
        last = -1
        unmatched_seen = False
        for value, item_path, type_code in items:
            index = _match(node, value, type_code)
            if index is None:
                unmatched_seen = True
                if node.slicing_rules == "closed":
                    text = f"{item_path} does not match any slice of {where} (slicing is closed)"
                    self.report("error", "structure", item_path, text)
                continue
            if node.slicing_ordered and index < last:
                text = f"{item_path}: slice '{slices[index].name}' is out of order"
                self.report("error", "structure", item_path, text)
            if node.slicing_rules == "openAtEnd" and unmatched_seen:
                text = f"{item_path}: items outside the slices must come last in {where}"
                self.report("error", "structure", item_path, text)
            last = max(last, index)
            counts[index] += 1
            if value is not None:
                self.item(slices[index].node, value, item_path, type_code)
        for sl, count in zip(slices, counts, strict=True):
            part = f"{where}: slice '{sl.name}'"
            if count < sl.node.min:
                text = f"{part} minimum required = {sl.node.min}, but only found {count}"
                self.report("error", "required", where, text)
            elif 0 <= sl.node.max < count:
                text = f"{part} maximum allowed = {sl.node.max}, but found {count}"
                self.report("error", "structure", where, text)
            if count == 0 and sl.node.must_support and sl.node.min == 0:
                self.report("information", "informational", where, f"must-support {part} is absent")

    # -- references ------------------------------------------------------------------------

    def reference(self, targets: frozenset[str], value: dict[str, Any], path: str) -> None:
        ref = value.get("reference")
        if type(ref) is not str:
            return  # identifier- or display-only: nothing to resolve
        target = self.target_type(ref)
        if target is None:
            declared = value.get("type")
            target = declared if type(declared) is str else None
        if target is None or target in targets:
            return
        shown = ", ".join(sorted(targets))
        text = f"{path}: the reference '{ref}' is to a {target}, but only {shown} is allowed"
        self.report("error", "structure", path, text)

    def target_type(self, ref: str) -> str | None:
        if ref.startswith("#"):
            for contained in self.resource.get("contained") or ():
                if type(contained) is dict and contained.get("id") == ref[1:]:
                    found = contained.get("resourceType")
                    return found if type(found) is str else None
            return None
        match = _LITERAL_REF.search(ref)
        if match is None or match.group(1) not in load_definitions().resources:
            return None  # urn:uuid:, a logical id without a type, ...: cannot tell
        return match.group(1)


def _items(obj: dict[str, Any], name: str, where: str, type_code: str | None) -> list[_Item]:
    value = obj.get(name)
    if value is None:
        extensions = obj.get(f"_{name}")
        if extensions is None:
            return []
        if type(extensions) is list:
            return [(None, f"{where}[{i}]", type_code) for i in range(len(extensions))]
        return [(None, where, type_code)]
    if type(value) is list:
        return [(v, f"{where}[{i}]", type_code) for i, v in enumerate(value)]
    return [(value, where, type_code)]


def _match(node: Node, value: Any, type_code: str | None) -> int | None:
    """The index of the first slice every discriminator of which the item satisfies."""
    if not node.slicing_paths:
        return None
    for index, sl in enumerate(node.slices):
        for d in sl.discriminators:
            if d.kind == "type":
                if type_code not in d.expected:
                    break
                continue
            found = _collect(value, d.steps)
            if d.kind == "exists":
                if bool(found) != d.expected:
                    break
                continue
            for v in found:
                if contains_pattern(v, d.expected):
                    break
            else:
                break
        else:
            return index
    return None


async def check_profile(
    profile: CompiledProfile,
    resource: dict[str, Any],
    terminology: TerminologyService,
    path: str | None = None,
) -> list[Issue]:
    """Every way `resource` fails `profile`; the resource must be structurally valid.
    `path` locates a nested resource (`Bundle.entry[0].resource/*Patient/p1*/`)."""
    walk = _Walk(resource, profile)
    walk.item(profile.root, resource, path or profile.type, profile.type)
    if walk.bindings:
        walk.issues.extend(await binding_issues(walk.bindings, terminology, walk.label))
    return list(dict.fromkeys(walk.issues))  # the same finding reached twice, once
