"""Build the regional profiles: differential JSON + vendored R4 base snapshots -> snapshots.

    python3 scripts/build_profiles.py            # profiles/source -> profiles/build
    python3 scripts/build_profiles.py --check    # exit 1 if profiles/build is stale (CI)
    python3 scripts/build_profiles.py --vendor   # ../shared/fhir-r4 -> profiles/base

Why our own generator and not SUSHI: CI must stay fast and work offline (ADR 0007). The
profiles are authored as differential StructureDefinitions in `profiles/source/`; the R4 base
snapshots they need are vendored into `profiles/base/` so a clone builds without `shared/`.
Output is deterministic (FHIR element order, 2-space JSON, trailing newline) so `--check` can
compare bytes. A broken differential stops the build with a message naming the source file and
the element id (exit 2).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from profile_build.elements import BuildError
from profile_build.snapshot import build_snapshot
from vendor_structure_definitions import NOT_R4_ELEMENTS

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
DEFAULT_SHARED = REPO.parent / "shared" / "fhir-r4"
R4 = "http://hl7.org/fhir/StructureDefinition/"
VENDORED_TYPES = (
    "Patient", "Organization", "HealthcareService", "ServiceRequest", "CarePlan",
    "Procedure", "Observation", "Extension",
    "Identifier", "CodeableConcept", "Coding", "Reference", "Period", "Quantity",
)  # fmt: skip


def dump(resource: dict[str, Any]) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BuildError(f"{path.name}: cannot read JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BuildError(f"{path.name}: not a JSON object")
    return data


def vendor(source: Path, base_dir: Path) -> None:
    """Copy the base StructureDefinitions (snapshots, without narrative) into profiles/base."""
    wanted = set(VENDORED_TYPES)
    found: dict[str, dict[str, Any]] = {}
    for name in ("profiles-resources.json", "profiles-types.json"):
        bundle = json.loads((source / name).read_text(encoding="utf-8"))
        for entry in bundle["entry"]:
            res = entry["resource"]
            if res.get("resourceType") == "StructureDefinition" and res.get("id") in wanted:
                found[res["id"]] = res
    missing = wanted - set(found)
    if missing:
        raise BuildError(f"{source}: no StructureDefinition for {sorted(missing)}")
    base_dir.mkdir(parents=True, exist_ok=True)
    for type_name, full in sorted(found.items()):
        sd = {k: v for k, v in full.items() if k != "text"}
        for part in ("snapshot", "differential"):
            sd[part]["element"] = [
                el
                for el in sd[part]["element"]
                if not any(
                    el["path"] == drop or el["path"].startswith(drop + ".")
                    for drop in NOT_R4_ELEMENTS
                )
            ]
        (base_dir / f"StructureDefinition-{type_name}.json").write_text(dump(sd), "utf-8")
    print(f"vendored {len(found)} base StructureDefinitions into {base_dir}")


def load_bases(base_dir: Path) -> dict[str, dict[str, Any]]:
    bases = {}
    for path in sorted(base_dir.glob("StructureDefinition-*.json")):
        sd = _load(path)
        bases[sd["type"]] = sd
    if not bases:
        raise BuildError(f"{base_dir}: no base StructureDefinitions (run with --vendor)")
    return bases


def build_all(source_dir: Path, base_dir: Path) -> dict[str, str]:
    """Return {output file name: JSON text} for every source profile."""
    bases = load_bases(base_dir)
    sources = {p.name: _load(p) for p in sorted(source_dir.glob("*.json"))}
    known = {sd["url"]: sd["type"] for sd in sources.values() if "url" in sd and "type" in sd}
    known.update({R4 + t: t for t in bases})
    extensions: dict[str, dict[str, Any]] = {}
    out = {}
    # Extensions first: the profiles' extension slices take their children from them.
    for name, sd in sorted(sources.items(), key=lambda item: item[1].get("type") != "Extension"):
        if not sd.get("id") or sd.get("id") != name.removesuffix(".json"):
            raise BuildError(f"{name}: id {sd.get('id')!r} must equal the file name")
        built = build_snapshot(name, sd, bases, known, extensions)
        if sd["type"] == "Extension":
            extensions[sd["url"]] = built
        out[f"StructureDefinition-{sd['id']}.json"] = dump(built)
    return dict(sorted(out.items()))


def check(built: dict[str, str], build_dir: Path) -> list[str]:
    """Differences between what the sources make and what is committed."""
    problems = []
    present = {p.name: p for p in build_dir.glob("StructureDefinition-*.json")}
    for name in sorted(set(present) - set(built)):
        problems.append(f"{name}: in profiles/build but no source makes it")
    for name, text in sorted(built.items()):
        if name not in present:
            problems.append(f"{name}: missing from profiles/build")
            continue
        current = present[name].read_text(encoding="utf-8")
        if current != text:
            diff = list(
                difflib.unified_diff(current.splitlines(), text.splitlines(), lineterm="", n=0)
            )
            problems.append(f"{name}: stale\n  " + "\n  ".join(diff[2:14]))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if profiles/build is stale")
    parser.add_argument("--vendor", action="store_true", help="re-vendor profiles/base first")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="R4 definitions")
    parser.add_argument("--profiles", type=Path, default=PROFILES, help="profiles/ folder")
    args = parser.parse_args(argv)
    source, base, build = (args.profiles / d for d in ("source", "base", "build"))
    try:
        if args.vendor:
            vendor(args.shared, base)
        built = build_all(source, base)
    except BuildError as exc:
        print(f"build_profiles: {exc}", file=sys.stderr)
        return 2
    if args.check:
        problems = check(built, build)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(
                "profiles/build is stale: run `python3 scripts/build_profiles.py`", file=sys.stderr
            )
        return 1 if problems else 0
    build.mkdir(parents=True, exist_ok=True)
    for stale in {p.name for p in build.glob("StructureDefinition-*.json")} - set(built):
        (build / stale).unlink()
    for name, text in built.items():
        (build / name).write_text(text, encoding="utf-8")
    print(f"built {len(built)} StructureDefinitions into {build}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
