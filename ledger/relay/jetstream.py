"""``ledger relay nats``: the feed into a NATS JetStream stream, every event once, in order.

The stream is the relay's memory. On every (re)connection the relay reads the stream's last
message and goes on after the chain position it carries (``Ledger-Position``); each message
it publishes names the stream sequence it must follow (``Nats-Expected-Last-Sequence``).
So a relay killed between the broker's ack and anything else resumes exactly after what the
stream holds, and a second relay, a stale retry or a reordered publish is refused by the
server rather than stored. ``relay_positions`` in the ledger's database is written after each
acknowledged batch, and read only when retention removed the stream's last message.

The ``nats`` client is imported here only, and this module only by the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    PubAck,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamInfo,
)
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from ledger.feed.cloudevents import FeedSource, read_feed_page
from ledger.relay.messages import (
    Mark,
    Message,
    RelayError,
    message_for,
    position_in,
    resume_mark,
)
from ledger.relay.state import RelayLock, load_mark, save_mark

WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code for a publish whose ``Nats-Expected-Last-Sequence`` is not the
stream's last sequence."""
EXPECTED_STREAM = "Nats-Expected-Stream"
RETENTIONS = {"limits": RetentionPolicy.LIMITS, "interest": RetentionPolicy.INTEREST}


@dataclass(frozen=True)
class RelayConfig:
    url: str
    stream: str = "LEDGER"
    prefix: str = "ledger"
    batch: int = 500
    once: bool = False
    poll: float = 0.5
    replicas: int = 1
    retention: str = "limits"
    duplicate_window: float = 120.0
    ack_timeout: float = 10.0
    first_backoff: float = 0.25
    max_backoff: float = 10.0
    lock_poll: float = 1.0

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


@dataclass
class RelayOutcome:
    relayed: int = 0
    mark: Mark = field(default_factory=lambda: Mark(0, 0))
    stopped: bool = False


class Conflict(Exception):
    """The stream is not where this relay thought (another relay published, or an ack was
    lost): read it again and go on from there."""


class Relay:
    def __init__(
        self,
        source: FeedSource,
        config: RelayConfig,
        stop: threading.Event,
        say: Callable[[str], None],
    ) -> None:
        self.source = source
        self.config = config
        self.stop = stop
        self.say = say
        self.outcome = RelayOutcome()
        self._created = ""

    # ------------------------------------------------------------------ the loop

    async def run(self) -> RelayOutcome:
        lock = RelayLock(self.source.engine, self.source.location, self.config.stream)
        if not await self._take(lock):
            self.outcome.stopped = True
            return self.outcome
        try:
            await self._run_locked()
        finally:
            lock.release()
        return self.outcome

    async def _take(self, lock: RelayLock) -> bool:
        waited = False
        while not await asyncio.to_thread(lock.acquire):
            if not waited:
                self.say(
                    f"another relay into stream {self.config.stream} is running "
                    f"({lock.describe()}); waiting for it to stop"
                )
                waited = True
            if await self._wait(self.config.lock_poll):
                return False
        if waited:
            self.say("the other relay has stopped: taking over")
        return True

    async def _run_locked(self) -> None:
        backoff = self.config.first_backoff
        while not self.stop.is_set():
            client = None
            try:
                client = await nats.connect(
                    servers=self.config.servers,
                    allow_reconnect=False,
                    connect_timeout=2,
                    error_cb=_ignore,
                    disconnected_cb=_nothing,
                    closed_cb=_nothing,
                )
                js = client.jetstream(timeout=self.config.ack_timeout)
                info = await self._stream(js)
                mark = await self._resume(js, info)
                backoff = self.config.first_backoff
                if await self._relay(client, mark):
                    return
            except Conflict as e:
                self.say(f"{e}; reading the stream again")
                await asyncio.sleep(0.1)
            except RelayError:
                raise
            except (nats.errors.Error, OSError, TimeoutError) as e:
                self.say(f"NATS unavailable ({_describe(e)}); retrying in {backoff:g} s")
                if await self._wait(backoff):
                    return
                backoff = min(backoff * 2, self.config.max_backoff)
            finally:
                if client is not None:
                    await _close(client)
        self.outcome.stopped = True

    async def _relay(self, client: NATS, mark: Mark) -> bool:
        """Publish page after page; True when done (caught up with ``once``, or stopped)."""
        while not self.stop.is_set():
            page = await asyncio.to_thread(
                read_feed_page, self.source, after=mark.position, limit=self.config.batch
            )
            if page.events:
                mark = await self._publish(client, mark, page.events)
            elif self.config.once or await self._wait(self.config.poll):
                return True
        self.outcome.stopped = True
        return True

    # ------------------------------------------------------------------ the stream

    async def _stream(self, js: JetStreamContext) -> StreamInfo:
        """The stream, created if missing; refused when it does not take our subjects."""
        name, subjects = self.config.stream, f"{self.config.prefix}.>"
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            try:
                info = await js.add_stream(
                    StreamConfig(
                        name=name,
                        description="The ledger's events as CloudEvents, in chain order",
                        subjects=[subjects],
                        retention=RETENTIONS[self.config.retention],
                        storage=StorageType.FILE,
                        num_replicas=self.config.replicas,
                        duplicate_window=self.config.duplicate_window,
                        discard=DiscardPolicy.OLD,
                    )
                )
            except APIError as e:
                if e.code == 503:
                    raise
                raise RelayError(f"cannot create stream {name}: {e.description}") from None
            self.say(
                f"created stream {name} (subjects {subjects}, retention "
                f"{self.config.retention}, replicas {self.config.replicas})"
            )
        taken = info.config.subjects or []
        if subjects not in taken and ">" not in taken:
            raise RelayError(
                f"stream {name} exists but takes subjects {', '.join(taken) or '(none)'}, "
                f"not {subjects}: choose another --stream or --subject-prefix"
            )
        self._created = info.created.isoformat() if info.created else ""
        return info

    async def _resume(self, js: JetStreamContext, info: StreamInfo) -> Mark:
        name, last = self.config.stream, info.state.last_seq
        position = None
        if last:
            try:
                msg = await js.get_msg(name, seq=last)
            except NotFoundError:
                msg = None  # removed by retention: the saved mark says where we were
            if msg is not None:
                position = position_in(msg.headers)
                if position is None:
                    raise RelayError(
                        f"stream {name}: its last message (sequence {last}, subject "
                        f"{msg.subject}) was not published by a ledger relay (no "
                        "Ledger-Position header); relay into a stream of its own"
                    )
                await asyncio.to_thread(self._check_same_ledger, position, msg.data or b"")
        saved = await asyncio.to_thread(load_mark, self.source.engine, name, self._created)
        mark = resume_mark(name, last, position, saved)
        self.outcome.mark = mark
        return mark

    def _check_same_ledger(self, position: int, body: bytes) -> None:
        """The stream's last event is this ledger's event at that position (same hash)."""
        page = read_feed_page(self.source, after=position - 1, limit=1)
        try:
            stored_hash = orjson.loads(body).get("eventhash")
        except orjson.JSONDecodeError:
            stored_hash = None
        if not page.events or position_of_first(page.events) != position:
            raise RelayError(
                f"stream {self.config.stream} already holds chain position {position}, beyond "
                "this ledger's last event: it is another ledger's stream, or this database was "
                "restored from an older backup"
            )
        if page.events[0]["eventhash"] != stored_hash:
            raise RelayError(
                f"stream {self.config.stream} holds another ledger's events: its position "
                f"{position} has hash {stored_hash}, this ledger's has "
                f"{page.events[0]['eventhash']}"
            )

    # ------------------------------------------------------------------ publishing

    async def _publish(self, client: NATS, mark: Mark, events: Sequence[dict[str, Any]]) -> Mark:
        """Publish a page, pipelined; keep the acknowledged prefix (saved to the database)
        and raise what stopped the rest."""
        messages = [
            message_for(event, self.config.prefix, mark.stream_seq + i)
            for i, event in enumerate(events)
        ]
        replies, failure = await _pipeline(
            client, messages, self.config.stream, self.config.ack_timeout
        )
        acked = mark
        for m, reply in zip(messages, replies, strict=True):
            if reply is None:
                failure = failure or TimeoutError(f"no ack within {self.config.ack_timeout:g} s")
                break
            if isinstance(reply, BaseException):
                failure = reply
                break
            if "error" in reply:
                error = reply["error"]
                if error.get("err_code") == WRONG_LAST_SEQUENCE:
                    failure = Conflict(
                        f"stream {self.config.stream} moved on past sequence "
                        f"{acked.stream_seq} (another relay?)"
                    )
                else:
                    failure = APIError(
                        code=error.get("code"),
                        err_code=error.get("err_code"),
                        description=error.get("description"),
                    )
                break
            ack = PubAck.from_response(reply)
            if ack.duplicate or ack.seq != acked.stream_seq + 1:
                failure = Conflict(
                    f"the stream stored position {m.position} elsewhere (sequence {ack.seq})"
                )
                break
            acked = Mark(ack.seq, m.position)
        if acked != mark:
            await asyncio.to_thread(
                save_mark, self.source.engine, self.config.stream, self._created, acked
            )
            self.outcome.relayed += acked.stream_seq - mark.stream_seq
            self.outcome.mark = acked
        if failure is not None:
            raise failure
        return acked

    async def _wait(self, seconds: float) -> bool:
        """Sleep, unless asked to stop; True when asked to stop."""
        return await asyncio.to_thread(self.stop.wait, seconds)


async def _pipeline(
    client: NATS, messages: Sequence[Message], stream: str, timeout: float
) -> tuple[list[dict[str, Any] | BaseException | None], BaseException | None]:
    """Send every message with its own reply subject, then wait (up to ``timeout``) for the
    replies: per message the server's JSON reply, an error, or None (no reply).

    Core publishes from one coroutine go out in order. (nats-py's ``publish_async`` is not
    used: it leaves a publish's future unresolved when the server answers with an error.)"""
    inbox = client.new_inbox()
    replies: list[dict[str, Any] | BaseException | None] = [None] * len(messages)
    waiting = {"count": len(messages)}
    all_in = asyncio.Event()

    async def on_reply(msg: Msg) -> None:
        index = int(msg.subject.rsplit(".", 1)[1])
        if replies[index] is not None:
            return
        if msg.headers and msg.headers.get("Status") == "503":
            replies[index] = NoStreamResponseError()
        else:
            try:
                replies[index] = orjson.loads(msg.data)
            except orjson.JSONDecodeError as e:
                replies[index] = e
        waiting["count"] -= 1
        if waiting["count"] == 0:
            all_in.set()

    failure: BaseException | None = None
    sub = await client.subscribe(f"{inbox}.*", cb=on_reply)
    try:
        for i, m in enumerate(messages):
            headers = {**m.headers, EXPECTED_STREAM: stream}
            await client.publish(m.subject, m.body, reply=f"{inbox}.{i}", headers=headers)
        await client.flush(timeout=max(1, int(timeout)))
        await asyncio.wait_for(all_in.wait(), timeout)
    except (nats.errors.Error, OSError, TimeoutError) as e:
        failure = e
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return replies, failure


def position_of_first(events: Sequence[dict[str, Any]]) -> int:
    return int(events[0]["sequence"])


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.removeprefix("nats: ")


async def _close(client: Any) -> None:
    with contextlib.suppress(Exception):  # the connection is going away; nothing to add
        await client.close()


async def _ignore(_error: Exception) -> None:
    """The client's errors surface as exceptions in the relay loop, which reports them."""


async def _nothing() -> None:
    pass


def run_relay(
    source: FeedSource, config: RelayConfig, stop: threading.Event, say: Callable[[str], None]
) -> RelayOutcome:
    """Run the relay until caught up (``config.once``) or ``stop`` is set."""
    return asyncio.run(Relay(source, config, stop, say).run())
