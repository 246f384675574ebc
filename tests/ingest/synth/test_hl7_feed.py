from __future__ import annotations

from pathlib import Path

import hl7
import pytest

from app.ingest.synth.hl7_feed import esc, seg
from app.ingest.synth.people import is_valid_nhs_number
from tests.ingest.synth.conftest import Feeds

BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")


def messages(path: Path) -> list[str]:
    """The file's messages as ``\\r``-separated text (batch wrapper segments dropped)."""
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\r").replace("\n", "")
    found: list[list[str]] = []
    for segment in text.split("\r"):
        if not segment or segment.startswith(BATCH_SEGMENTS):
            continue
        if segment.startswith("MSH|"):
            found.append([])
        found[-1].append(segment)
    return ["\r".join(m) for m in found]


def test_seg_numbers_fields_as_hl7_does() -> None:
    assert seg("PID", {1: "1", 3: "X", 5: "DOE^JO"}) == "PID|1||X||DOE^JO"
    assert seg("MSH", {2: "^~\\&", 3: "APP", 10: "ID1"}) == "MSH|^~\\&|APP|||||||ID1"
    assert esc("TOE & CT | 1^2") == "TOE \\T\\ CT \\F\\ 1\\S\\2"


@pytest.mark.parametrize("slug", ["kings", "barts"])
def test_every_message_parses_and_matches_the_manifest(feeds: Feeds, slug: str) -> None:
    entry = feeds.centre(slug)
    version = "2.4" if slug == "kings" else "2.5"
    counted: dict[str, int] = {}
    control_ids = []
    for name in entry["files"]:
        for text in messages(feeds.root / slug / name):
            message = hl7.parse(text)
            msh = message.segment("MSH")
            assert str(msh[12]) == version
            assert str(msh[4]) == ("KCH" if slug == "kings" else "BHC")
            kind = f"{msh[9][0][0]}^{msh[9][0][1]}"
            counted[kind] = counted.get(kind, 0) + 1
            control_ids.append(str(msh[10]))
    assert counted == entry["by_kind"]
    assert sum(counted.values()) == entry["units"]
    assert len(set(control_ids)) == len(control_ids)


def test_kings_and_barts_framing(feeds: Feeds) -> None:
    kings = feeds.root / "kings" / feeds.centre("kings")["files"][0]
    barts = feeds.root / "barts" / feeds.centre("barts")["files"][0]
    kings_bytes, barts_bytes = kings.read_bytes(), barts.read_bytes()
    assert b"\r\n" in kings_bytes and b"\n\n" not in kings_bytes
    assert kings_bytes.startswith(b"MSH|^~\\&|KCH-EPR|KCH|")
    assert barts_bytes.startswith(b"FHS|^~\\&|MILLENNIUM|BHC|")
    lines = barts_bytes.decode().split("\r\n")
    assert lines[1].startswith("BHS|") and lines[-2] == "FTS|1"
    assert lines[-3] == f"BTS|{sum(1 for line in lines if line.startswith('MSH|'))}"


@pytest.mark.parametrize("slug", ["kings", "barts"])
def test_nhs_numbers_are_valid_except_the_deliberate_ones(feeds: Feeds, slug: str) -> None:
    invalid = {pos for _, pos in feeds.bad(slug, "invalid-nhs-number")}
    truncated = {pos for _, pos in feeds.bad(slug, "truncated")}
    seen_invalid = set()
    for name in feeds.centre(slug)["files"]:
        for text in messages(feeds.root / slug / name):
            message = hl7.parse(text)
            position = f"message {message.segment('MSH')[10]}"
            if position in truncated:
                assert text.split("\r")[-1].startswith("PID|") and len(text.split("\r")[-1]) <= 14
                continue
            pid = message.segment("PID")
            nhs = [str(r[0]) for r in pid[3] if str(r[4]) == "NH"]
            assert len(nhs) == 1
            if position in invalid:
                seen_invalid.add(position)
                assert not is_valid_nhs_number(nhs[0])
            else:
                assert is_valid_nhs_number(nhs[0]), position
    assert seen_invalid == invalid


def test_local_codes_mdt_outcomes_and_merges_are_where_the_docs_say(feeds: Feeds) -> None:
    texts = [t for n in feeds.centre("kings")["files"] for t in messages(feeds.root / "kings" / n)]
    mdts = [t for t in texts if "\rZKC|" in t]
    assert mdts and all("71002^Structural heart MDT^99KCH" in t for t in mdts)
    orders = [hl7.parse(t) for t in texts if "|ORM^O01^ORM_O01|" in t and "\rOBR|" in t]
    assert orders
    for order in orders:
        assert str(order.segment("OBR")[4][0][2]) == "99KCH"
        assert str(order.segment("ORC")[4][0][0]).startswith("KCH-REF-")
    merges = [hl7.parse(t) for t in texts if "|ADT^A40^ADT_A39|" in t]
    assert merges
    for merge in merges:
        retired = str(merge.segment("MRG")[1][0][0])
        surviving = [str(r[0]) for r in merge.segment("PID")[3] if str(r[4]) == "MR"]
        assert retired.startswith("K") and retired != surviving[0]
