"""``mitral-fhir synth``, ``ingest`` and ``quarantine list|show|replay`` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from app.storage import migrate

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def _database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    migrate.upgrade(url)
    return url


def test_synth_writes_every_centres_feed_and_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "feeds"
    result = CliRunner().invoke(cli, ["synth", "--patients", "5", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["patients"] == 5
    assert {p.name for p in out.iterdir() if p.is_dir()} <= set(manifest["centres"])
    assert sum(c["units"] for c in manifest["centres"].values()) > 0


def test_ingest_then_quarantine_list_show_and_replay(tmp_path: Path) -> None:
    url = _database(tmp_path)
    runner = CliRunner()
    files = sorted(str(p) for p in (FEEDS / "barts").glob("*.hl7"))
    result = runner.invoke(cli, ["ingest", "--centre", "barts", *files, "--database-url", url])
    assert result.exit_code == 0, result.output
    manifest = json.loads((FEEDS / "manifest.json").read_text())["centres"]["barts"]
    assert re.search(rf"barts\s+│\s+{manifest['units']}\s", result.output), result.output

    listed = runner.invoke(cli, ["quarantine", "list", "--database-url", url])
    assert listed.exit_code == 0, listed.output
    assert f"{manifest['bad']} quarantined" in listed.output
    unit_id = re.search(r"\b([0-9a-f]{40})\b", listed.output)
    assert unit_id is not None, listed.output

    shown = runner.invoke(cli, ["quarantine", "show", unit_id.group(1), "--database-url", url])
    assert shown.exit_code == 0, shown.output
    assert "MSH|" in shown.output and '"OperationOutcome"' in shown.output

    replayed = runner.invoke(cli, ["quarantine", "replay", unit_id.group(1), "--database-url", url])
    assert replayed.exit_code == 0, replayed.output  # still broken: quarantined again
    assert "1" in replayed.output

    again = runner.invoke(cli, ["ingest", "--centre", "barts", *files, "--database-url", url])
    assert again.exit_code == 0, again.output


def test_ingest_names_an_unknown_centre(tmp_path: Path) -> None:
    url = _database(tmp_path)
    path = tmp_path / "x.hl7"
    path.write_text("MSH|^~\\&|X")
    result = CliRunner().invoke(
        cli, ["ingest", "--centre", "nowhere", str(path), "--database-url", url]
    )
    assert result.exit_code != 0
    assert "nowhere" in (result.output + str(result.exception))
