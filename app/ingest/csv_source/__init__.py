"""CSV extracts (St George's referrals, Harefield procedures) as source records.

``read_csv`` checks the file against the centre's mapping and streams its data rows as
``CsvRecord`` (one ingest unit each) or ``CsvRowError`` (a row to quarantine alone);
``read_row`` re-reads one stored row with its header line for replay; and
``parse_csv_datetime`` turns the centre's date formats into FHIR dates and dateTimes.
"""

from app.ingest.csv_source.dates import parse_csv_datetime
from app.ingest.csv_source.reader import CsvFile, CsvRow, read_csv
from app.ingest.csv_source.record import CsvRecord, CsvRowError, read_row

__all__ = [
    "CsvFile",
    "CsvRecord",
    "CsvRow",
    "CsvRowError",
    "parse_csv_datetime",
    "read_csv",
    "read_row",
]
