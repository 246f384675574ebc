"""CSV extracts: file checks, row streaming, row errors, replay of one row, centre dates."""

from __future__ import annotations

import inspect
import itertools
import tracemalloc
from zoneinfo import ZoneInfo

import pytest

from app.ingest.csv_source import (
    CsvFile,
    CsvRecord,
    CsvRowError,
    parse_csv_datetime,
    read_csv,
    read_row,
)
from app.ingest.records import ROOT, SourceError, SourceRecord

COLUMNS = ["NHS_No", "Hosp_No", "Referral_ID", "Surname", "Forename", "DOB", "Referral_Date"]
REQUIRED = ["NHS_No", "Referral_ID"]
HEADER = ",".join(COLUMNS)
LONDON = ZoneInfo("Europe/London")


def _rows(*lines: str, end: str = "\r\n") -> bytes:
    return end.join([HEADER, *lines]).encode() + end.encode()


def _read(data: bytes, **options: object) -> CsvFile:
    settings: dict[str, object] = {
        "columns": COLUMNS,
        "required": REQUIRED,
        "kind": "referrals",
        "source_name": "sgh_referrals_20260314.csv",
    }
    settings.update(options)
    return read_csv(data, **settings)  # type: ignore[arg-type]


def _records(csv_file: CsvFile) -> list[CsvRecord]:
    rows = list(csv_file.rows())
    assert all(isinstance(row, CsvRecord) for row in rows), rows
    return [row for row in rows if isinstance(row, CsvRecord)]


ROW_1 = "9434765919,H123456,SGH-R-000101,Okafor,Adaeze,12/04/1951,14/03/2026 09:30"
ROW_2 = "9434765870,H654321,SGH-R-000102,Whitfield,Graham,03/11/1946,14/03/2026 11:05"


def test_bom_is_not_part_of_the_first_column_name() -> None:
    csv_file = _read(b"\xef\xbb\xbf" + _rows(ROW_1))
    assert csv_file.header[0] == "NHS_No"
    assert csv_file.header_line == HEADER
    (row,) = _records(csv_file)
    record: SourceRecord = row  # the engine's protocol, checked by mypy
    assert record.values("NHS_No") == ["9434765919"]


@pytest.mark.parametrize("end", ["\r\n", "\n", "\r"], ids=["windows", "unix", "old-mac"])
def test_every_line_ending_gives_the_same_rows_and_line_numbers(end: str) -> None:
    rows = _records(_read(_rows(ROW_1, ROW_2, end=end)))
    assert [row.position for row in rows] == ["line 2", "line 3"]
    assert rows[1].values("Surname") == ["Whitfield"]
    assert rows[1].raw_line == ROW_2
    assert rows[0].rule_key == "referrals"
    assert rows[0].kind == "csv"


def test_quoted_field_keeps_embedded_newline_and_delimiter_and_counts_lines() -> None:
    tricky = (
        '9434765919,H123456,SGH-R-000101,"Okafor, née Eze",Adaeze,12/04/1951,"14/03/2026\r\n09:30"'
    )
    rows = _records(_read(_rows(tricky, ROW_2)))
    assert rows[0].values("Surname") == ["Okafor, née Eze"]
    assert rows[0].values("Referral_Date") == ["14/03/2026\r\n09:30"]
    assert rows[0].raw_line == tricky
    assert rows[1].position == "line 4"


def test_trailing_empty_lines_and_delimiter_only_lines_are_not_rows() -> None:
    data = _rows(ROW_1) + b"\r\n\r\n,,,,,,\r\n   \r\n"
    assert len(_records(_read(data))) == 1


@pytest.mark.parametrize("sent", [";", "\t", "|"])
def test_wrong_delimiter_is_named(sent: str) -> None:
    data = "\r\n".join([sent.join(COLUMNS), ROW_1.replace(",", sent)]).encode()
    with pytest.raises(SourceError) as caught:
        _read(data)
    assert f"delimiter looks like {sent!r} but this centre sends ','" in caught.value.message
    assert caught.value.location == "line 1"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n  \n\t\r\n"])
def test_empty_file_is_a_file_error(data: bytes) -> None:
    with pytest.raises(SourceError, match="the file is empty"):
        _read(data)


def test_missing_required_columns_are_named() -> None:
    header = "Hosp_No,Surname,Forename,DOB,Referral_Date"
    with pytest.raises(SourceError) as caught:
        _read(f"{header}\r\nH123456,Okafor,Adaeze,12/04/1951,14/03/2026\r\n".encode())
    assert "lacks required column(s) NHS_No, Referral_ID" in caught.value.message
    assert caught.value.code == "required"
    assert caught.value.message.startswith("sgh_referrals_20260314.csv: ")


def test_duplicate_and_unnamed_columns_are_file_errors() -> None:
    with pytest.raises(SourceError, match="repeats column"):
        _read(f"{HEADER},Surname\r\n{ROW_1},Okafor\r\n".encode())
    with pytest.raises(SourceError, match=r"no name for column\(s\) 8"):
        _read(f"{HEADER},\r\n{ROW_1},\r\n".encode())


def test_extra_column_is_reported_and_its_values_are_unread() -> None:
    data = f"{HEADER},Clinic_Notes\r\n{ROW_1},Seen by Dr Patel\r\n{ROW_2},\r\n".encode()
    csv_file = _read(data)
    assert len(csv_file.problems) == 1
    assert "Clinic_Notes" in csv_file.problems[0].message
    first, second = _records(csv_file)
    for column in COLUMNS:
        first.values(column)
        second.values(column)
    assert first.unread() == ["Clinic_Notes"]
    assert second.unread() == []


def test_unread_lists_non_empty_columns_nobody_read() -> None:
    (row,) = _records(_read(_rows("9434765919,,SGH-R-000101,Okafor,,,")))
    row.values("NHS_No")
    assert row.unread() == ["Referral_ID", "Surname"]


def test_values_strip_blank_unknown_and_absent_columns() -> None:
    columns = [*COLUMNS, "Priority"]
    (row,) = _records(_read(_rows("9434765919 , ,SGH-R-000101,Okafor,Adaeze,,"), columns=columns))
    assert row.values("NHS_No") == ["9434765919"]
    assert row.items("Hosp_No") == []
    assert row.values("Priority") == []
    assert row.each("NHS_No") == [ROOT]
    with pytest.raises(KeyError, match="Referal_ID"):
        row.values("Referal_ID")


def test_short_and_long_rows_are_row_errors_and_the_file_goes_on() -> None:
    short = "9434765919,H123456,SGH-R-000101,Okafor"
    long = ROW_1 + ",urgent"
    rows = list(_read(_rows(short, long, ROW_2)).rows())
    assert isinstance(rows[0], CsvRowError)
    assert rows[0].line == 2
    assert rows[0].raw == short
    assert "4 cells, fewer than the 7 columns" in rows[0].message
    assert isinstance(rows[1], CsvRowError)
    assert "8 cells, more than the 7 columns" in rows[1].message
    assert rows[1].header_line == HEADER
    assert isinstance(rows[2], CsvRecord)
    assert rows[2].position == "line 4"


def test_broken_quoting_is_a_row_error_and_the_file_goes_on() -> None:
    broken = '9434765919,H123456,"SGH-R-000101"x,Okafor,Adaeze,12/04/1951,14/03/2026'
    rows = list(_read(_rows(broken, ROW_2)).rows())
    assert isinstance(rows[0], CsvRowError)
    assert "broken quoting" in rows[0].message
    assert isinstance(rows[1], CsvRecord)
    assert rows[1].values("Referral_ID") == ["SGH-R-000102"]


def test_unclosed_quote_runs_to_the_end_as_one_row_error() -> None:
    rows = list(_read(_rows(ROW_1, '9434765870,H654321,"SGH-R-000102,Whitfield', ROW_2)).rows())
    assert isinstance(rows[0], CsvRecord)
    assert len(rows) == 2
    assert isinstance(rows[1], CsvRowError)
    assert rows[1].line == 3
    assert "never closed" in rows[1].message


def test_latin1_byte_in_utf8_file_names_offset_and_line() -> None:
    data = _rows(ROW_1, ROW_2.replace("Graham", "René")).replace("é".encode(), b"\xe9")
    with pytest.raises(SourceError) as caught:
        _read(data)
    offset = data.index(b"\xe9")
    assert f"byte offset {offset} (line 3)" in caught.value.message
    assert "0xe9" in caught.value.message
    assert caught.value.location == "line 3"


def test_windows_1252_centre_reads_accents() -> None:
    data = _rows(ROW_2.replace("Whitfield", "Müller")).decode().encode("cp1252")
    (row,) = _records(_read(data, encoding="cp1252"))
    assert row.values("Surname") == ["Müller"]


def test_non_ascii_compatible_encoding_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        _read(_rows(ROW_1), encoding="utf-16")


def test_fifty_thousand_rows_stream_one_at_a_time() -> None:
    body = "".join(
        f"{9000000000 + n},H{n:06d},SGH-R-{n:06d},Surname{n},Ann,01/01/1950,14/03/2026 09:30\r\n"
        for n in range(50_000)
    )
    csv_file = _read((HEADER + "\r\n" + body).encode())
    rows = csv_file.rows()
    assert inspect.isgenerator(rows)
    count, last = 0, None
    for row in rows:
        count += 1
        last = row
    assert count == 50_000
    assert isinstance(last, CsvRecord)
    assert last.position == "line 50001"
    assert last.values("Referral_ID") == ["SGH-R-049999"]
    # the body is ~4 MB: reading it all before the first row would show in the peak
    tracemalloc.start()
    try:
        for _ in itertools.islice(csv_file.rows(), 2_000):
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 500_000


def test_rows_can_be_read_again_from_the_start() -> None:
    csv_file = _read(_rows(ROW_1, ROW_2))
    assert [r.position for r in csv_file.rows()] == [r.position for r in csv_file.rows()]


def test_one_stored_row_replays_alone() -> None:
    tricky = (
        '9434765919,H123456,SGH-R-000101,"Okafor, née Eze",Adaeze,12/04/1951,"14/03/2026\r\n09:30"'
    )
    original = _records(_read(_rows(ROW_2, tricky)))[1]
    again = read_row(original.header_line, original.raw_line, ",", "referrals", line=original.line)
    assert again.position == "line 3"
    assert again.rule_key == "referrals"
    assert again.values("Surname") == ["Okafor, née Eze"]
    assert again.values("Referral_Date") == ["14/03/2026\r\n09:30"]
    stored = CsvRecord.from_stored(HEADER, ROW_1, delimiter=",", kind="referrals")
    assert stored.values("Referral_ID") == ["SGH-R-000101"]
    assert stored.position == "stored row"


def test_replaying_a_still_broken_row_raises() -> None:
    with pytest.raises(SourceError, match="line 7 has 4 cells"):
        read_row(HEADER, "9434765919,H123456,SGH-R-000101,Okafor", ",", "referrals", line=7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14/01/2026 09:30", "2026-01-14T09:30:00+00:00"),
        ("14/07/2026 09:30", "2026-07-14T09:30:00+01:00"),
        ("29/03/2026 00:59", "2026-03-29T00:59:00+00:00"),
        ("29/03/2026 02:00", "2026-03-29T02:00:00+01:00"),
        ("29/03/2026 02:30", "2026-03-29T02:30:00+01:00"),
        ("25/10/2026 01:30", "2026-10-25T01:30:00+01:00"),  # twice that night: the first
        ("25/10/2026 02:00", "2026-10-25T02:00:00+00:00"),
        ("14-MAR-2026 14:05", "2026-03-14T14:05:00+00:00"),
        ("14/03/2026", "2026-03-14"),
    ],
)
def test_centre_datetimes_get_the_london_offset_of_that_day(text: str, expected: str) -> None:
    formats = ["%d/%m/%Y %H:%M", "%d-%b-%Y %H:%M", "%d/%m/%Y"]
    assert parse_csv_datetime(text, formats, LONDON, date_only=False) == expected


def test_spring_gap_time_resolves_with_the_winter_offset() -> None:
    got = parse_csv_datetime("29/03/2026 01:30", ["%d/%m/%Y %H:%M"], LONDON, date_only=False)
    assert got == "2026-03-29T01:30:00+00:00"


def test_date_only_drops_the_time() -> None:
    got = parse_csv_datetime(" 12/04/1951 ", ["%d/%m/%Y"], LONDON, date_only=True)
    assert got == "1951-04-12"
    got = parse_csv_datetime("25/10/2026 01:30", ["%d/%m/%Y %H:%M"], LONDON, date_only=True)
    assert got == "2026-10-25"


def test_unreadable_date_names_the_formats_tried() -> None:
    with pytest.raises(ValueError, match=r"'2026-13-01'.*'%d/%m/%Y', '%d-%b-%Y %H:%M'"):
        parse_csv_datetime("2026-13-01", ["%d/%m/%Y", "%d-%b-%Y %H:%M"], LONDON, date_only=False)
