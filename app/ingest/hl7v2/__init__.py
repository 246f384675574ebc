"""HL7 v2 (ER7) input: splitting feeds into messages, reading them as source records,
converting their timestamps, and acknowledging them."""

from app.ingest.hl7v2.ack import ack_message
from app.ingest.hl7v2.parse import Hl7Record, parse_header, parse_message
from app.ingest.hl7v2.split import split_messages
from app.ingest.hl7v2.timestamps import hl7_date, hl7_datetime

__all__ = [
    "Hl7Record",
    "ack_message",
    "hl7_date",
    "hl7_datetime",
    "parse_header",
    "parse_message",
    "split_messages",
]
