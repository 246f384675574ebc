from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.ingest.hl7v2 import Hl7Record, parse_message
from app.ingest.mllp import Frame, FrameDecoder, MllpListener, frame, serve_mllp


def referral(control_id: str) -> bytes:
    return (
        "MSH|^~\\&|EPR|KCH|MITRAL|SLMVN|20260115103000||REF^I12^REF_I12|"
        f"{control_id}|P|2.4\r"
        "PID|1||9434765919^^^NHS^NH||SMITH^JOHN\r"
        "RF1|P^Pending|U^Urgent|CARD^Cardiology||O|KCH-REF-0042|20260114\r"
    ).encode()


# -- deframing without sockets -------------------------------------------------------------


def test_frames_split_across_reads_and_several_in_one_read() -> None:
    decoder = FrameDecoder()
    data = frame(b"one") + frame(b"two") + frame(b"three")
    found: list[Frame] = []
    for index in range(len(data)):
        found += decoder.feed(data[index : index + 1])
    assert found == [Frame(b"one"), Frame(b"two"), Frame(b"three")]
    assert FrameDecoder().feed(data) == found
    assert not decoder.pending


def test_a_lone_end_block_ends_a_frame() -> None:
    assert FrameDecoder().feed(b"\x0bone\x1c\x0btwo\x1c\r") == [Frame(b"one"), Frame(b"two")]


def test_junk_outside_frames_is_reported_once_per_stretch() -> None:
    decoder = FrameDecoder()
    first = decoder.feed(b"MSH|^~\\&|no framing")
    assert [f.payload for f in first] == [None]
    assert "outside an MLLP frame" in first[0].error
    assert decoder.feed(b" still junk\r") == []
    assert decoder.feed(frame(b"ok")) == [Frame(b"ok")]
    assert decoder.feed(b"\r\n") == []


def test_a_start_block_inside_a_frame_ends_the_unfinished_one() -> None:
    found = FrameDecoder().feed(b"\x0bcut off\x0bwhole\x1c\r")
    assert [f.payload for f in found] == [None, b"whole"]
    assert "not ended" in found[0].error


def test_an_oversized_frame_is_reported_early_and_skipped() -> None:
    decoder = FrameDecoder(max_bytes=10)
    assert [f.error for f in decoder.feed(b"\x0b" + b"x" * 11)] == ["message larger than 10 bytes"]
    assert decoder.feed(b"y" * 100) == []
    assert decoder.feed(b"\x1c\r" + frame(b"small")) == [Frame(b"small")]
    assert [f.payload for f in decoder.feed(frame(b"z" * 11))] == [None]


def test_pending_while_mid_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x0bMSH|")
    assert decoder.pending


# -- over real sockets ---------------------------------------------------------------------


class Recorder:
    """A handler that remembers what it got and fails on request."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def __call__(self, raw: bytes) -> tuple[str, str]:
        self.received.append(raw)
        control_id = parse_message(raw).control_id
        if control_id == "BOOM":
            raise RuntimeError("database unavailable")
        if control_id == "BAD":
            return "AE", "PID-7: '2026-13-01' is not an HL7 v2 date"
        return "AA", "stored"


@pytest.fixture
async def running() -> AsyncIterator[tuple[MllpListener, Recorder]]:
    recorder = Recorder()
    listener = await serve_mllp(recorder, "127.0.0.1", 0, max_bytes=4096)
    yield listener, recorder
    await listener.close()


async def read_ack(reader: asyncio.StreamReader) -> Hl7Record:
    block = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), timeout=10)
    assert block.startswith(b"\x0b")
    return parse_message(block[1:-2])


async def connect(
    listener: MllpListener,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", listener.port)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def test_many_messages_on_one_connection(running: tuple[MllpListener, Recorder]) -> None:
    listener, recorder = running
    reader, writer = await connect(listener)
    writer.write(frame(referral("KCH1")) + frame(referral("KCH2")))
    writer.write(frame(referral("KCH3")))
    await writer.drain()
    acks = [await read_ack(reader) for _ in range(3)]
    assert [a.values("MSA-2") for a in acks] == [["KCH1"], ["KCH2"], ["KCH3"]]
    assert [a.values("MSA-1") for a in acks] == [["AA"]] * 3
    assert acks[0].values("MSH-3") == ["MITRAL"]
    assert acks[0].rule_key == "ACK^I12"
    assert recorder.received == [referral("KCH1"), referral("KCH2"), referral("KCH3")]
    await close(writer)


async def test_the_handlers_code_and_text_are_sent_back(
    running: tuple[MllpListener, Recorder],
) -> None:
    listener, _ = running
    reader, writer = await connect(listener)
    writer.write(frame(referral("BAD")))
    ack = await read_ack(reader)
    assert ack.values("MSA-1") == ["AE"]
    assert ack.values("MSA-3") == ["PID-7: '2026-13-01' is not an HL7 v2 date"]
    await close(writer)


async def test_a_malformed_frame_is_rejected_and_the_connection_goes_on(
    running: tuple[MllpListener, Recorder],
) -> None:
    listener, recorder = running
    reader, writer = await connect(listener)
    writer.write(referral("NOFRAME"))  # no start block
    rejected = await read_ack(reader)
    assert rejected.values("MSA-1") == ["AR"]
    assert rejected.values("MSA-2") == []
    assert "outside an MLLP frame" in rejected.values("MSA-3")[0]
    writer.write(frame(referral("KCH4")))
    accepted = await read_ack(reader)
    assert accepted.values("MSA-2") == ["KCH4"]
    assert recorder.received == [referral("KCH4")]
    await close(writer)


async def test_an_oversized_message_is_rejected(running: tuple[MllpListener, Recorder]) -> None:
    listener, recorder = running
    reader, writer = await connect(listener)
    huge = referral("HUGE") + b"NTE|1||" + b"x" * 5000 + b"\r"
    writer.write(frame(huge) + frame(referral("KCH5")))
    rejected = await read_ack(reader)
    assert rejected.values("MSA-1") == ["AR"]
    assert rejected.values("MSA-3") == ["message larger than 4096 bytes"]
    assert (await read_ack(reader)).values("MSA-2") == ["KCH5"]
    assert recorder.received == [referral("KCH5")]
    await close(writer)


async def test_a_handler_that_raises_gets_ae_and_the_listener_keeps_serving(
    running: tuple[MllpListener, Recorder],
) -> None:
    listener, _ = running
    reader, writer = await connect(listener)
    writer.write(frame(referral("BOOM")))
    failed = await read_ack(reader)
    assert failed.values("MSA-1") == ["AE"]
    assert failed.values("MSA-2") == ["BOOM"]
    assert "database" not in failed.raw_text
    writer.write(frame(referral("KCH6")))
    assert (await read_ack(reader)).values("MSA-1") == ["AA"]
    await close(writer)


async def test_a_connection_closed_mid_message_loses_nothing_else(
    running: tuple[MllpListener, Recorder],
) -> None:
    listener, recorder = running
    _, writer = await connect(listener)
    writer.write(b"\x0b" + referral("CUT")[:40])
    await writer.drain()
    await close(writer)
    reader, writer = await connect(listener)
    writer.write(frame(referral("KCH7")))
    assert (await read_ack(reader)).values("MSA-2") == ["KCH7"]
    assert recorder.received == [referral("KCH7")]
    await close(writer)


async def test_several_connections_at_once(running: tuple[MllpListener, Recorder]) -> None:
    listener, _ = running
    first, second = await connect(listener), await connect(listener)
    first[1].write(frame(referral("A1")))
    second[1].write(frame(referral("B1")))
    assert (await read_ack(second[0])).values("MSA-2") == ["B1"]
    assert (await read_ack(first[0])).values("MSA-2") == ["A1"]
    await close(first[1])
    await close(second[1])


async def test_close_ends_open_connections() -> None:
    listener = await serve_mllp(Recorder(), "127.0.0.1", 0)
    reader, writer = await connect(listener)
    await listener.close()
    assert await asyncio.wait_for(reader.read(), timeout=10) == b""
    await close(writer)
    with pytest.raises(RuntimeError, match="not started"):
        _ = listener.port
