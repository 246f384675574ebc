"""MLLP listener: HL7 v2 messages over TCP, each acknowledged once it has been handled.

Hospital interface engines keep one connection open for days and send message after message
on it, waiting for each ACK before the next. So one task serves each connection, frames are
read incrementally (a frame may arrive in pieces, or several in one read), and nothing a
sender does (junk between frames, a frame cut short, an oversized message, a handler that
fails) stops the listener: each gets an ACK with a reason, or a log line when the sender has
gone. The handler owns durability: it must have stored the message before it returns AA.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.ingest.hl7v2.ack import ACK_CODES, ack_message
from app.ingest.hl7v2.parse import parse_header

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\r"
DEFAULT_MAX_BYTES = 1 << 20
_READ_SIZE = 1 << 16
_HANDLER_FAILED = "internal error: the message was not processed"

Handler = Callable[[bytes], Awaitable[tuple[str, str]]]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Frame:
    """A complete payload, or (``payload is None``) why the bytes were not one."""

    payload: bytes | None
    error: str = ""


class FrameDecoder:
    """Incremental MLLP deframing: ``<VT> payload <FS><CR>``, fed whatever TCP delivers.

    A lone ``<FS>`` also ends a frame (some senders omit the ``<CR>``). Bytes outside a
    frame other than line ends are reported once per stretch; a start block inside a frame
    ends the unfinished one as an error; a frame over ``max_bytes`` is reported as soon as it
    is too long and its rest skipped without buffering.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._skipping = False
        self._junk_reported = False

    @property
    def pending(self) -> bool:
        """True while a frame has started and not ended (the sender is mid-message)."""
        return self._in_frame

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._buffer:
            step = self._inside(frames) if self._in_frame else self._outside(frames)
            if not step:
                break
        return frames

    def _outside(self, frames: list[Frame]) -> bool:
        start = self._buffer.find(START_BLOCK)
        before = self._buffer if start < 0 else self._buffer[:start]
        if before.strip(b" \t\r\n" + END_BLOCK) and not self._junk_reported:
            frames.append(Frame(None, "data outside an MLLP frame (no start block 0x0B)"))
            self._junk_reported = True
        if start < 0:
            self._buffer.clear()
            return False
        del self._buffer[: start + 1]
        self._in_frame, self._junk_reported = True, False
        return True

    def _inside(self, frames: list[Frame]) -> bool:
        end = self._buffer.find(END_BLOCK)
        restart = self._buffer.find(START_BLOCK, 0, None if end < 0 else end)
        if restart >= 0:
            if not self._skipping:
                frames.append(Frame(None, "MLLP frame not ended before the next start block"))
            del self._buffer[:restart]
            self._in_frame = self._skipping = False
            return True
        if end < 0:
            if self._skipping:
                self._buffer.clear()
            elif len(self._buffer) > self.max_bytes:
                frames.append(Frame(None, f"message larger than {self.max_bytes} bytes"))
                self._buffer.clear()
                self._skipping = True
            return False
        payload = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        if self._buffer[:1] == CARRIAGE_RETURN:
            del self._buffer[:1]
        self._in_frame = False
        if self._skipping:
            self._skipping = False
        elif len(payload) > self.max_bytes:
            frames.append(Frame(None, f"message larger than {self.max_bytes} bytes"))
        else:
            frames.append(Frame(payload))
        return True


def frame(message: bytes) -> bytes:
    return START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN


def new_control_id() -> str:
    return uuid.uuid4().hex[:20].upper()


class MllpListener:
    """A TCP server calling ``handle(raw)`` for each message and writing back its ACK."""

    def __init__(
        self, handle: Handler, host: str, port: int, *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.handle = handle
        self.host = host
        self.requested_port = port
        self.max_bytes = max_bytes
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the MLLP listener is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.requested_port)
        log.info("MLLP listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stop accepting, end open connections (a message being handled is cancelled)."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            await self._converse(reader, writer, peer)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.warning("MLLP connection from %s lost: %s", peer, exc)
        except Exception:
            log.exception("MLLP connection from %s failed", peer)
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        decoder = FrameDecoder(self.max_bytes)
        while chunk := await reader.read(_READ_SIZE):
            for found in decoder.feed(chunk):
                if found.payload is None:
                    log.warning("MLLP framing error from %s: %s", peer, found.error)
                    reply = ack_message(None, "AR", found.error, control_id=new_control_id())
                else:
                    reply = await self._acknowledge(found.payload)
                writer.write(frame(reply))
                await writer.drain()
        if decoder.pending:
            log.warning("MLLP connection from %s closed mid-message; nothing was ACKed", peer)

    async def _acknowledge(self, raw: bytes) -> bytes:
        try:
            code, text = await self.handle(raw)
        except Exception:
            log.exception("MLLP handler failed")
            code, text = "AE", _HANDLER_FAILED
        if code not in ACK_CODES:
            log.error("MLLP handler returned %r, not an ACK code", code)
            code, text = "AE", _HANDLER_FAILED
        return ack_message(parse_header(raw), code, text, control_id=new_control_id())


async def serve_mllp(
    handle: Handler, host: str, port: int, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> MllpListener:
    """Start listening; ``await listener.close()`` to stop."""
    listener = MllpListener(handle, host, port, max_bytes=max_bytes)
    await listener.start()
    return listener
