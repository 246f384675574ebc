from __future__ import annotations

import json
from pathlib import Path

from app.ingest.synth import generate
from tests.ingest.synth.conftest import PATIENTS, SEED, Feeds

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
# The committed samples: regenerate with generate(FIXTURE_PATIENTS, FIXTURE_SEED, FIXTURES).
FIXTURE_PATIENTS = 20
FIXTURE_SEED = 87


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes(feeds: Feeds, tmp_path: Path) -> None:
    again = generate(PATIENTS, SEED, tmp_path / "again")
    assert tree(tmp_path / "again") == tree(feeds.root)
    assert (again.units, again.bad, again.files) == (
        feeds.summary.units,
        feeds.summary.bad,
        feeds.summary.files,
    )


def test_another_seed_another_cohort(tmp_path: Path) -> None:
    generate(20, 1, tmp_path / "a")
    generate(20, 2, tmp_path / "b")
    assert tree(tmp_path / "a") != tree(tmp_path / "b")


def test_a_rerun_replaces_the_previous_cohort(tmp_path: Path) -> None:
    generate(40, 5, tmp_path)
    before = set(tree(tmp_path))
    generate(5, 6, tmp_path)
    after = set(tree(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    listed = {f"{c}/{f}" for c, e in manifest["centres"].items() for f in e["files"]}
    assert after == listed | {"manifest.json"}
    assert before != after


def test_manifest_totals_and_files(feeds: Feeds) -> None:
    manifest = feeds.manifest
    centres = manifest["centres"]
    assert set(centres) == {
        "kings",
        "barts",
        "st-thomas",
        "royal-brompton",
        "hammersmith",
        "st-georges",
        "harefield",
    }
    assert manifest["totals"]["units"] == sum(c["units"] for c in centres.values())
    assert manifest["totals"]["bad"] == sum(len(c["bad_units"]) for c in centres.values())
    assert feeds.summary.total_units == manifest["totals"]["units"]
    for slug, entry in centres.items():
        assert entry["bad"] == len(entry["bad_units"])
        assert sum(entry["by_kind"].values()) == entry["units"] > 0
        on_disk = {str(p.relative_to(feeds.root / slug)) for p in (feeds.root / slug).rglob("*.*")}
        assert on_disk == set(entry["files"])
        assert {b["file"] for b in entry["bad_units"]} <= set(entry["files"])


def test_about_two_percent_bad_of_every_kind(feeds: Feeds) -> None:
    totals = feeds.manifest["totals"]
    assert 0.01 <= totals["bad"] / totals["units"] <= 0.03
    kinds = {b["kind"] for c in feeds.manifest["centres"].values() for b in c["bad_units"]}
    assert kinds == {"invalid-nhs-number", "invalid-date", "unknown-code", "truncated"}


def test_committed_samples_are_what_the_generator_writes(tmp_path: Path) -> None:
    generate(FIXTURE_PATIENTS, FIXTURE_SEED, tmp_path)
    assert tree(tmp_path) == tree(FIXTURES)
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    assert all(entry["units"] > 0 for entry in manifest["centres"].values())
