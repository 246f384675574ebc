from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from app.ingest.synth.csv_feed import HAREFIELD_HEADER, ST_GEORGES_HEADER
from app.ingest.synth.people import is_valid_nhs_number
from tests.ingest.synth.conftest import Feeds

DOCS = Path(__file__).resolve().parents[3] / "docs" / "centres.md"


def documented_header(section: str) -> str:
    """The header line in the first code block after ``### <section>`` in docs/centres.md."""
    text = DOCS.read_text(encoding="utf-8")
    after = text[text.index(f"### {section}") :]
    match = re.search(r"```\n(.+?)\n```", after)
    assert match is not None
    return match.group(1)


def rows(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    text = path.read_bytes().decode(encoding)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_headers_are_exactly_as_documented(feeds: Feeds) -> None:
    assert documented_header("st-georges") == ",".join(ST_GEORGES_HEADER)
    assert documented_header("harefield") == ";".join(HAREFIELD_HEADER)
    for name in feeds.centre("st-georges")["files"]:
        raw = (feeds.root / "st-georges" / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf" + ",".join(ST_GEORGES_HEADER).encode() + b"\n")
        assert b"\r" not in raw
    for name in feeds.centre("harefield")["files"]:
        raw = (feeds.root / "harefield" / name).read_bytes()
        assert raw.startswith(";".join(HAREFIELD_HEADER).encode("cp1252") + b"\r\n")
        assert raw.count(b"\n") == raw.count(b"\r\n")


def test_st_georges_rows_match_the_manifest_and_formats(feeds: Feeds) -> None:
    entry = feeds.centre("st-georges")
    invalid = feeds.bad("st-georges", "invalid-nhs-number")
    bad_dates = feeds.bad("st-georges", "invalid-date")
    total = 0
    for name in entry["files"]:
        table = rows(feeds.root / "st-georges" / name, "utf-8-sig", ",")
        assert table[0] == ST_GEORGES_HEADER
        for line, row in enumerate(table[1:], start=2):
            total += 1
            record = dict(zip(ST_GEORGES_HEADER, row, strict=True))
            assert re.fullmatch(r"\d{3} \d{3} \d{4}", record["NHS No"])
            valid = is_valid_nhs_number(record["NHS No"])
            assert valid != ((name, f"line {line}") in invalid)
            dt.datetime.strptime(record["DOB"], "%d/%m/%Y")
            dt.datetime.strptime(record["Last Updated"], "%d/%m/%Y %H:%M")
            if (name, f"line {line}") not in bad_dates:
                dt.datetime.strptime(record["Date of Referral"], "%d/%m/%Y")
            assert record["Status"] in ("Open", "Referred On", "Closed", "Rejected")
    assert total == entry["units"] == entry["by_kind"]["referrals row"]


def test_harefield_rows_match_the_manifest_and_formats(feeds: Feeds) -> None:
    entry = feeds.centre("harefield")
    invalid = feeds.bad("harefield", "invalid-nhs-number")
    bad_dates = feeds.bad("harefield", "invalid-date")
    ids = []
    for name in entry["files"]:
        table = rows(feeds.root / "harefield" / name, "cp1252", ";")
        assert table[0] == HAREFIELD_HEADER
        for line, row in enumerate(table[1:], start=2):
            record = dict(zip(HAREFIELD_HEADER, row, strict=True))
            ids.append(record["PROC_ID"])
            valid = is_valid_nhs_number(record["NHS_NUMBER"])
            assert valid != ((name, f"line {line}") in invalid)
            dt.datetime.strptime(record["DATE_OF_BIRTH"], "%d-%b-%Y")
            if (name, f"line {line}") not in bad_dates:
                proc_date = dt.datetime.strptime(record["PROC_DATE"], "%d-%b-%Y %H:%M")
                assert name >= f"procedures_{proc_date:%Y%m}.csv"  # that month's or a revision
            assert record["PROC_CODE"].startswith("HF/")
    assert len(ids) == entry["units"]
