"""The shared store: one Redis behind any number of server processes.

Everything that must be atomic (the conditional append with its exactly-once key and ballot-box
change, a cast, a snapshot replacing an older one, a new assembly with its join codes) is one Lua
script, because Redis runs a script with nothing interleaved: that is what makes the compare-and-
append of `base.Store.append` hold across processes with no locks. Appends also PUBLISH each event
inside the same script, so the order of fan-out is the order of the log, and no event can be
appended without being published (nor published without being appended).

Pub/sub is fire-and-forget: whatever is published while a process's subscriber connection is down
is gone for it. The reader here therefore treats every loss of that connection the same way: a
fresh connection, every listened room subscribed again, then `on_reconnect` so the server catches
up from the durable logs (the streams), which lose nothing.

Durability is Redis's: a write is acknowledged once Redis has it in memory, and it survives a
Redis restart only with the append-only file on (`start()` warns when it is not).

The scripts of many rooms and ballots asked for at once go to Redis together: one pipeline (no
MULTI: each script is atomic by itself, and each caller gets its own answer) instead of a pooled
connection, a write and a read each. A busy hall costs Redis's client library a fraction of the
CPU it would otherwise (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .base import Appended, Box, BoxChange, CastOutcome, Count, Outcome, Store, _union, check_history, split_ack

log = logging.getLogger("samling.store")

# KEYS: head, log, acks[, box, ballots]
# ARGV: expect, has_key, key, channel, action, options, version, ack (seq or seq:digest suffix), blob...
# An ack is kept as "seq" or "seq:digest" (the digest of what the command said).
# The checks come before any write: Redis does not roll a script back, so a refusal must leave
# nothing behind. Same order of checks as SqliteStore.append: duplicate, conflict, box refusal.
APPEND = """
local expect = tonumber(ARGV[1])
local has_key = ARGV[2] == '1'
if has_key then
  local seen = redis.call('HGET', KEYS[3], ARGV[3])
  if seen then return {'duplicate', seen} end
end
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
if head ~= expect then return {'conflict', head} end
local action = ARGV[5]
if action == 'open' then
  -- like SqliteStore's INSERT OR REPLACE: a fresh box, counting whatever ballots the poll already has
  local options = tonumber(ARGV[6])
  local counts = {}
  for i = 0, options - 1 do counts[i] = 0 end
  local voters = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[5])) do
    local c = tonumber(v)
    if c and c >= 0 and c < options then
      counts[c] = counts[c] + 1
      voters = voters + 1
    end
  end
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[4], 'open', 1, 'options', options, 'version', 0, 'tallied', -1, 'voters', voters)
  for i = 0, options - 1 do redis.call('HSET', KEYS[4], 'c' .. i, counts[i]) end
elseif action == 'close' then
  if redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('HSET', KEYS[4], 'open', 0)
    redis.call('HINCRBY', KEYS[4], 'version', 1)
  end
elseif action == 'touch' then
  if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('HINCRBY', KEYS[4], 'version', 1) end
elseif action == 'tally' then
  local state = redis.call('HMGET', KEYS[4], 'version', 'tallied')
  local version = tonumber(state[1] or '0')
  local tallied = tonumber(state[2] or '-1')
  if version ~= tonumber(ARGV[7]) then return {'stale', head} end
  if tallied == version then return {'unchanged', head} end
  if state[1] then redis.call('HSET', KEYS[4], 'tallied', version) end
end
for i = 9, #ARGV do
  head = head + 1
  redis.call('XADD', KEYS[2], string.format('%d-1', head), 'e', ARGV[i])
  redis.call('PUBLISH', ARGV[4], ARGV[i])
end
redis.call('SET', KEYS[1], string.format('%d', head))
if has_key then redis.call('HSET', KEYS[3], ARGV[3], string.format('%d', head) .. ARGV[8]) end
return {'ok', string.format('%d', head)}
"""

# KEYS: box, ballots, bkeys, bchoices, reasons; ARGV: device, choice, key, reason ('' for none)
# Counts are kept incrementally so `count` is one HGETALL however many ballots there are; only
# in-range choices are counted, as SqliteStore.count ignores the others. `bchoices` keeps each
# key's choice, so the same key with another choice is told apart (`bkeys` alone: older keys).
CAST = """
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 1 then
  local first = redis.call('HGET', KEYS[4], ARGV[3])
  if first and first ~= ARGV[2] then return 'reused' end
  return 'duplicate'
end
if redis.call('HGET', KEYS[1], 'open') ~= '1' then return 'closed' end
local choice = tonumber(ARGV[2])
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if (not prev) or tonumber(prev) ~= choice then
  local options = tonumber(redis.call('HGET', KEYS[1], 'options') or '0')
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  if prev then
    local p = tonumber(prev)
    if p >= 0 and p < options then
      redis.call('HINCRBY', KEYS[1], 'c' .. p, -1)
      redis.call('HINCRBY', KEYS[1], 'voters', -1)
    end
  end
  if choice >= 0 and choice < options then
    redis.call('HINCRBY', KEYS[1], 'c' .. choice, 1)
    redis.call('HINCRBY', KEYS[1], 'voters', 1)
  end
end
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[5], ARGV[1])
else
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[2])
return 'ok'
"""

# KEYS: snap; ARGV: seq, blob
SAVE_SNAPSHOT = """
local current = redis.call('HGET', KEYS[1], 'seq')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'blob', ARGV[2])
return 1
"""

# KEYS: codes, asm:{id}, assemblies; ARGV: id, record, code1, data1, code2, data2, ...
# 0: a code is taken (nothing kept); -1: the assembly id exists (nothing kept); 1: kept.
CREATE_ASSEMBLY = """
for i = 3, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then return 0 end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# KEYS: settings; ARGV: key, old, new
REPLACE_SETTING = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if (not v) or v == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return ARGV[3]
end
return v
"""

# KEYS: head, snap, restored; ARGV: seq, blob, epoch
# `restored` is "epoch:seq" of the last restore. In the same epoch a further restore wins only
# from further ahead and only while nothing was appended since (the most advanced process's
# memory is the best copy; events of the new epoch are never overwritten).
RESTORE = """
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
if head >= tonumber(ARGV[1]) then return 0 end
local last = redis.call('GET', KEYS[3])
if last then
  local sep = string.find(last, ':', 1, true)
  if string.sub(last, 1, sep - 1) == ARGV[3] and tonumber(string.sub(last, sep + 1)) ~= head then return 0 end
end
redis.call('SET', KEYS[3], ARGV[3] .. ':' .. ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'blob', ARGV[2])
return 1
"""

# KEYS: head, log, acks, snap; ARGV: after, head, seq1, blob1, seq2, blob2, ...
# One batch of a room's imported history (`import_room`): the first (after 0) only into a room
# never used, each next one only where the one before left the head; 0 refuses and writes nothing.
IMPORT_EVENTS = """
local after = tonumber(ARGV[1])
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
if head ~= after then return 0 end
if after == 0 and redis.call('EXISTS', KEYS[2], KEYS[3], KEYS[4]) > 0 then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-1', 'e', ARGV[i + 1])
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

# KEYS: box, ballots, bkeys, bchoices, reasons; ARGV: five sections, each its length then its
# items: the box's fields and values, the ballots' devices and choices, the keys, the keys and
# choices, the devices and reasons. 0 (nothing written) if the poll has any of them already.
IMPORT_BOX = """
if redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]) > 0 then return 0 end
local i = 1
for k = 1, 5 do
  local n = tonumber(ARGV[i])
  i = i + 1
  if k == 3 then
    for j = i, i + n - 1 do redis.call('SADD', KEYS[3], ARGV[j]) end
  else
    for j = i, i + n - 1, 2 do redis.call('HSET', KEYS[k], ARGV[j], ARGV[j + 1]) end
  end
  i = i + n
end
return 1
"""

#: events per script call of an import (a room's history may be far larger than one call should carry)
IMPORT_BATCH = 1000

DRIVER = DriverInfo()

_CONNECTION_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


def _bytes(value: bytes | str) -> bytes:
    """Blobs come back as bytes (decode_responses=False); the str branch only satisfies the types."""
    return value if isinstance(value, bytes) else value.encode()


def _text(value: Any) -> str:
    """redis-py gives bytes or str depending on the command's parser: compare as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore(Store):
    name = "redis"

    #: first and longest pause between attempts to get the pub/sub connection back
    backoff_start = 0.05
    backoff_cap = 2.0
    #: idle seconds before the reader PINGs Redis; no answer by the next heartbeat means a dead
    #: connection (a half-open TCP connection would otherwise block the reader forever)
    heartbeat = 5.0
    #: how long `listen` waits for Redis to confirm a subscription before returning anyway
    subscribe_timeout = 5.0
    connect_timeout = 5.0
    command_timeout = 30.0

    #: pipelines of batched script calls in flight at once, and the most calls in one
    pipelines = 4
    batch_max = 256

    def __init__(self, url: str, prefix: str = "samling:") -> None:
        super().__init__()
        self._calls: deque[tuple[AsyncScript, list[Any], list[Any], asyncio.Future[Any]]] = deque()
        self._flushers = 0
        self.url = url
        self.prefix = prefix
        self._channel_prefix = f"{prefix}room:".encode()
        self._redis: Redis | None = None
        self._sub_client: Redis | None = None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        # Futures of `listen` calls waiting for Redis to confirm their SUBSCRIBE. Per channel, one
        # entry per SUBSCRIBE sent on the current connection, in order: confirmations come back in
        # the order the commands were sent, so each one resolves the oldest entry.
        self._confirm: dict[bytes, deque[list[asyncio.Future[None]]]] = {}
        # Waiters whose connection was lost before the confirmation came: the next connection's
        # re-subscription confirms them.
        self._orphans: dict[bytes, list[asyncio.Future[None]]] = {}

    # -- plumbing
    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    def _channel(self, room: str) -> bytes:
        return self._channel_prefix + room.encode()

    @property
    def _r(self) -> Redis:
        redis = self._redis
        assert redis is not None, "RedisStore.start() was not awaited"
        return redis

    def _client(self, retry: Retry) -> Redis:
        # decode_responses=False: event blobs and snapshots are binary msgpack.
        # protocol=2: over RESP3, redis-py 8 turns on "maintenance notifications", which disables
        # its check of a pooled connection before use, so after a Redis restart every connection
        # left in the pool would fail one command with "Connection closed by server".
        # A blocking pool: a burst (a whole hall reconnecting after a WiFi drop) waits for a free
        # connection instead of failing with "Too many connections".
        # driver_info made once: redis-py otherwise looks its own version up in the installed
        # packages' metadata for every new connection (a millisecond each, and a reconnecting
        # hall opens up to 200 at once).
        pool = BlockingConnectionPool.from_url(
            self.url, max_connections=200, timeout=10, decode_responses=False, retry=retry, protocol=2,
            socket_connect_timeout=self.connect_timeout, socket_timeout=self.command_timeout, driver_info=DRIVER)
        return Redis.from_pool(pool)  # the client owns the pool and closes it with itself

    # -- life
    async def start(self) -> None:
        # No automatic retries of commands: a retried append or cast whose first attempt did reach
        # Redis would come back CONFLICT/DUPLICATE and mislead the caller; the error is honest.
        self._redis = self._client(Retry(NoBackoff(), 0))
        # The subscriber retries nothing either, not even a reconnect (no supported errors): every
        # lost connection must reach the reader loop, which alone knows to call on_reconnect.
        self._sub_client = self._client(Retry(NoBackoff(), 0, supported_errors=()))
        self._append = self._redis.register_script(APPEND)
        self._cast = self._redis.register_script(CAST)
        self._save_snapshot = self._redis.register_script(SAVE_SNAPSHOT)
        self._create_assembly = self._redis.register_script(CREATE_ASSEMBLY)
        self._replace_setting = self._redis.register_script(REPLACE_SETTING)
        self._restore = self._redis.register_script(RESTORE)
        self._import_events = self._redis.register_script(IMPORT_EVENTS)
        self._import_box = self._redis.register_script(IMPORT_BOX)
        pubsub = self._sub_client.pubsub()
        try:
            await self._r.ping()
            await self._check_persistence()
            await pubsub.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            # a store that failed to start holds no sockets, whether or not the caller closes it
            await self._discard(pubsub)
            await self._sub_client.aclose()
            await self._redis.aclose()
            self._sub_client = self._redis = None
            raise
        self._pubsub = pubsub
        self._reader = asyncio.get_running_loop().create_task(self._read_forever(), name="samling-redis-pubsub")

    async def _check_persistence(self) -> None:
        """Say loudly when Redis would lose acknowledged events on a restart: the protocol promises
        that an acked command survives, and only Redis's append-only file can keep that promise."""
        try:
            appendonly = _text((await self._r.config_get("appendonly")).get("appendonly", ""))
            save = _text((await self._r.config_get("save")).get("save", ""))
            fsync = _text((await self._r.config_get("appendfsync")).get("appendfsync", ""))
        except ResponseError as e:
            log.warning("could not check Redis persistence (CONFIG GET refused: %s). Unless Redis runs with "
                        "appendonly yes and appendfsync everysec (or always), acknowledged events may be lost "
                        "if Redis restarts.", e)
            return
        if appendonly.lower() == "no":
            snapshots = f"only RDB snapshots (save {save!r})" if save.strip() else "no persistence at all"
            log.warning("Redis runs with appendonly no (%s): acknowledged events may be lost if Redis restarts. "
                        "Run it with appendonly yes and appendfsync everysec (at most about a second lost on a "
                        "crash) or appendfsync always (nothing lost).", snapshots)
        elif fsync.lower() == "no":
            log.warning("Redis runs with appendfsync no: the OS decides when the append-only file reaches the disk, "
                        "so acknowledged events may be lost if the machine crashes. Use appendfsync everysec or "
                        "always.")

    async def close(self) -> None:
        self._closing = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait({reader})
            if not reader.cancelled() and reader.exception() is not None:
                log.error("the Redis pub/sub reader had failed", exc_info=reader.exception())
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await self._discard(pubsub)
        for waiters in [*self._orphans.values(), *(f for dq in self._confirm.values() for f in dq)]:
            for fut in waiters:  # release listen() calls still waiting (cancelling would hit their callers)
                if not fut.done():
                    fut.set_result(None)
        self._orphans.clear()
        self._confirm.clear()
        for client in (self._sub_client, self._redis):
            if client is not None:
                await client.aclose()
        self._sub_client = self._redis = None

    # -- settings and the registry
    async def setting(self, key: str, default: str) -> str:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hsetnx(f"{self.prefix}settings", key, default)
            pipe.hget(f"{self.prefix}settings", key)
            _, value = await pipe.execute()
        return _text(value)

    async def replace_setting(self, key: str, old: str, new: str) -> str:
        return _text(await self._replace_setting(keys=[f"{self.prefix}settings"], args=[key, old, new]))

    async def create_assembly(self, assembly: str, record: dict[str, Any], codes: dict[str, dict[str, Any]]) -> bool:
        args: list[str] = [assembly, json.dumps(record)]
        for code, data in codes.items():
            args += [code, json.dumps(data)]
        keys = [f"{self.prefix}codes", self._key("asm", assembly), f"{self.prefix}assemblies"]
        done = int(await self._create_assembly(keys=keys, args=args))
        if done < 0:
            # SqliteStore refuses this too (its primary key raises): an id names one assembly.
            raise ValueError(f"assembly {assembly!r} already exists")
        return done == 1

    async def assembly(self, assembly: str) -> dict[str, Any] | None:
        data = await self._r.get(self._key("asm", assembly))
        return None if data is None else dict(json.loads(data))

    async def assemblies(self) -> list[str]:
        return [_text(a) for a in await self._r.lrange(f"{self.prefix}assemblies", 0, -1)]

    async def lookup_code(self, code: str) -> dict[str, Any] | None:
        data = await self._r.hget(f"{self.prefix}codes", code)
        return None if data is None else dict(json.loads(data))

    async def add_member(self, assembly: str, device: str) -> int:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.sadd(self._key("members", assembly), device)
            pipe.scard(self._key("members", assembly))
            _, members = await pipe.execute()
        return int(members)

    async def members(self, assembly: str) -> int:
        return int(await self._r.scard(self._key("members", assembly)))

    # -- presence: one hash per assembly, a field per process holding its counts and when
    async def report_presence(self, assembly: str, process: str, seated: dict[str, list[str]], now: float) -> None:
        key = self._key("presence", assembly)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(key, process, json.dumps([now, seated]))
            pipe.expire(key, 60)
            await pipe.execute()

    async def presence(self, assembly: str, now: float, fresh: float = 15.0) -> dict[str, list[str]]:
        key = self._key("presence", assembly)
        reports = [json.loads(raw) for raw in (await self._r.hgetall(key)).values()]
        return _union(reports, now, fresh)

    async def revoke(self, assembly: str, device: str) -> None:
        await self._r.sadd(self._key("revoked", assembly), device)

    async def revoked(self, assembly: str) -> set[str]:
        return {_text(d) for d in await self._r.smembers(self._key("revoked", assembly))}

    # -- logs
    async def head(self, room: str) -> int:
        seq = await self._r.get(self._key("head", room))
        return 0 if seq is None else int(seq)

    async def read(self, room: str, after: int, limit: int = 1000) -> list[bytes]:
        if limit == 0:
            return []
        # Entry ids are "{seq}-1", so "{after+1}-0" is just below the first wanted one. A negative
        # limit means no limit, as in SQLite.
        first = f"{max(after, 0) + 1}-0"
        entries = await self._r.xrange(self._key("log", room), first, "+", count=limit if limit > 0 else None)
        return [_bytes(fields[b"e"]) for _, fields in entries or [] if fields is not None]

    async def append(self, room: str, expect: int, blobs: list[bytes], key: str | None = None,
                     box: BoxChange | None = None, digest: str = "") -> Appended:
        keys = [self._key("head", room), self._key("log", room), self._key("acks", room)]
        if box is not None:
            keys += [self._key("box", box.poll), self._key("ballots", box.poll)]
        args: list[str | bytes | int] = [
            expect, "1" if key is not None else "0", key or "", self._channel(room),
            box.action if box is not None else "", box.options if box is not None else 0,
            box.version if box is not None else 0, f":{digest}" if digest else "", *blobs,
        ]
        outcome, seq = await self._batched(self._append, keys, args)
        return Appended(Outcome(_text(outcome)), *split_ack(_text(seq)))

    async def acked(self, room: str, key: str) -> tuple[int, str] | None:
        seen = await self._r.hget(self._key("acks", room), key)
        return None if seen is None else split_ack(_text(seen))

    async def restore(self, room: str, seq: int, blob: bytes, epoch: str) -> bool:
        keys = [self._key("head", room), self._key("snap", room), self._key("restored", room)]
        return int(await self._restore(keys=keys, args=[seq, blob, epoch])) == 1

    async def snapshot(self, room: str) -> tuple[int, bytes] | None:
        seq, blob = await self._r.hmget(self._key("snap", room), ["seq", "blob"])
        return None if seq is None or blob is None else (int(seq), _bytes(blob))

    async def save_snapshot(self, room: str, seq: int, blob: bytes) -> None:
        await self._save_snapshot(keys=[self._key("snap", room)], args=[seq, blob])

    # -- ballot boxes
    async def cast(self, poll: str, device: str, choice: int, key: str, reason: str | None = None) -> CastOutcome:
        keys = [self._key("box", poll), self._key("ballots", poll), self._key("bkeys", poll),
                self._key("bchoices", poll), self._key("reasons", poll)]
        args = [device, choice, key, reason or ""]
        return CastOutcome(_text(await self._batched(self._cast, keys, args)))

    async def reasons(self, poll: str) -> list[str]:
        values = await self._r.hvals(self._key("reasons", poll))
        return sorted(_text(v) for v in values)

    async def ballot(self, poll: str, device: str) -> int | None:
        choice = await self._r.hget(self._key("ballots", poll), device)
        return None if choice is None else int(choice)

    async def count(self, poll: str) -> Count:
        # one HGETALL: counts, voters, version and open are read at the same instant
        box = {_bytes(k): _bytes(v) for k, v in (await self._r.hgetall(self._key("box", poll))).items()}
        if not box:
            return Count([], 0, 0, False)
        counts = [int(box.get(f"c{i}".encode(), 0)) for i in range(int(box[b"options"]))]
        return Count(counts, int(box.get(b"voters", 0)), int(box.get(b"version", 0)), box.get(b"open") == b"1")

    # -- the record (server/backup.py)
    async def member_devices(self, assembly: str) -> list[str]:
        return sorted(_text(d) for d in await self._r.smembers(self._key("members", assembly)))

    async def forget_presence(self, assembly: str) -> None:
        await self._r.delete(self._key("presence", assembly))

    async def acks(self, room: str) -> dict[str, tuple[int, str]]:
        return {_text(k): split_ack(_text(v)) for k, v in (await self._r.hgetall(self._key("acks", room))).items()}

    async def boxes(self, prefix: str) -> list[str]:
        start = self._key("box", "")
        match = "".join("\\" + ch if ch in "\\*?[]" else ch for ch in start + prefix) + "*"
        return sorted([_text(k)[len(start):] async for k in self._r.scan_iter(match=match, count=1000)])

    async def box(self, poll: str) -> Box | None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._key("box", poll))
            pipe.hgetall(self._key("ballots", poll))
            pipe.smembers(self._key("bkeys", poll))
            pipe.hgetall(self._key("bchoices", poll))
            pipe.hgetall(self._key("reasons", poll))
            state, ballots, keys, choices, reasons = await pipe.execute()
        if not state:
            return None
        fields = {_text(k): _text(v) for k, v in state.items()}
        chosen = {_text(k): int(v) for k, v in choices.items()}
        return Box(fields.get("open") == "1", int(fields["options"]), int(fields.get("version", 0)),
                   int(fields.get("tallied", -1)), {_text(d): int(c) for d, c in ballots.items()},
                   {_text(k): chosen.get(_text(k)) for k in keys}, {_text(d): _text(r) for d, r in reasons.items()})

    async def import_room(self, room: str, head: int, events: list[tuple[int, bytes]],
                          acks: dict[str, tuple[int, str]], snapshot: tuple[int, bytes] | None) -> bool:
        check_history(head, events, snapshot)
        keys = [self._key("head", room), self._key("log", room), self._key("acks", room), self._key("snap", room)]
        after = 0
        for start in range(0, max(len(events), 1), IMPORT_BATCH):
            batch = events[start:start + IMPORT_BATCH]
            upto = head if start + IMPORT_BATCH >= len(events) else batch[-1][0]
            args: list[int | bytes] = [after, upto, *(x for seq, blob in batch for x in (seq, blob))]
            if int(await self._import_events(keys=keys, args=args)) != 1:
                if after == 0:
                    return False
                raise RuntimeError(f"room {room} changed while it was being imported (at seq {after})")
            after = upto
        async with self._r.pipeline(transaction=True) as pipe:
            if acks:
                pipe.hset(keys[2], mapping={k: f"{seq}:{digest}" if digest else str(seq)
                                            for k, (seq, digest) in acks.items()})
            if snapshot is not None:
                pipe.hset(keys[3], mapping={"seq": snapshot[0], "blob": snapshot[1]})
            await pipe.execute()
        return True

    async def import_box(self, poll: str, box: Box) -> bool:
        counts = [0] * box.options
        for choice in box.ballots.values():
            if 0 <= choice < box.options:  # as CAST counts: a choice outside the box counts for nothing
                counts[choice] += 1
        fields: list[str | int] = ["open", int(box.open), "options", box.options, "version", box.version,
                                   "tallied", box.tallied, "voters", sum(counts)]
        for i, n in enumerate(counts):
            fields += [f"c{i}", n]
        ballots = [x for device, choice in box.ballots.items() for x in (device, choice)]
        chosen = [x for key, choice in box.keys.items() if choice is not None for x in (key, choice)]
        reasons = [x for device, reason in box.reasons.items() for x in (device, reason)]
        args = [len(fields), *fields, len(ballots), *ballots, len(box.keys), *box.keys, len(chosen), *chosen,
                len(reasons), *reasons]
        keys = [self._key(kind, poll) for kind in ("box", "ballots", "bkeys", "bchoices", "reasons")]
        return int(await self._import_box(keys=keys, args=args)) == 1

    # -- batching script calls
    async def _batched(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        """Run `script` in the next pipeline; its own answer (or error)."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.append((script, keys, args, done))
        if self._flushers < self.pipelines:
            self._flushers += 1
            asyncio.get_running_loop().create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        try:
            while self._calls:
                batch = [self._calls.popleft() for _ in range(min(self.batch_max, len(self._calls)))]
                try:
                    answers = await self._pipeline(batch)
                except BaseException as e:  # the connection failed: every caller hears it (server_busy)
                    answers = [e] * len(batch)
                for (_, _, _, done), answer in zip(batch, answers, strict=True):
                    if not done.done():
                        if isinstance(answer, BaseException):
                            done.set_exception(answer)
                        else:
                            done.set_result(answer)
        finally:
            self._flushers -= 1

    async def _pipeline(self, batch: list[tuple[AsyncScript, list[Any], list[Any], Any]]) -> list[Any]:
        """EVALSHA each call in one round trip; a script Redis does not know (it restarted) is
        loaded and its calls run again (a refused EVALSHA ran nothing)."""
        async with self._r.pipeline(transaction=False) as pipe:
            for script, keys, args, _ in batch:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            answers: list[Any] = await pipe.execute(raise_on_error=False)
        missing = [i for i, a in enumerate(answers) if isinstance(a, NoScriptError)]
        if missing:
            for script in {batch[i][0] for i in missing}:
                script.sha = _text(await self._r.script_load(script.script))
            async with self._r.pipeline(transaction=False) as pipe:
                for i in missing:
                    script, keys, args, _ = batch[i]
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                for i, answer in zip(missing, await pipe.execute(raise_on_error=False), strict=True):
                    answers[i] = answer
        return answers

    # -- fan-out
    async def _subscribe(self, room: str) -> None:
        """Subscribe, and wait until Redis confirms it, so that an event appended after `listen`
        returns is delivered (callers read the log right after listening, and rely on no gap)."""
        channel = self._channel(room)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pubsub = self._pubsub
        if pubsub is None:  # reconnecting: the reader subscribes every listened room when it is back
            self._orphans.setdefault(channel, []).append(done)
        else:
            self._confirm.setdefault(channel, deque()).append([done])
            try:
                await pubsub.subscribe(channel)
            except _CONNECTION_LOST as e:
                # The reader meets the same dead connection, re-subscribes and calls on_reconnect.
                log.debug("subscribing to %r failed (%s); the pub/sub reader will re-subscribe", room, e)
        try:
            await asyncio.wait_for(asyncio.shield(done), self.subscribe_timeout)
        except TimeoutError:
            log.warning("Redis did not confirm the subscription to room %r within %.0fs; if the pub/sub "
                        "connection is lost, on_reconnect catches up from the log", room, self.subscribe_timeout)

    async def _unsubscribe(self, room: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:  # the next connection only subscribes rooms still listened to
            return
        try:
            await pubsub.unsubscribe(self._channel(room))
        except _CONNECTION_LOST as e:
            log.debug("unsubscribing from %r failed (%s); the pub/sub reader reconnects without it", room, e)

    async def _read_forever(self) -> None:
        """Deliver published events to the listeners; on any loss of the connection, get a fresh
        one (capped exponential backoff with jitter), subscribe every listened room again, and
        await `on_reconnect`, since what was published in between never arrives."""
        delay = self.backoff_start
        while True:
            try:
                if self._pubsub is None:
                    await self._resubscribe()
                    log.info("Redis pub/sub connection restored (%d rooms subscribed)", len(self._listeners))
                    await self._reconnected()
                    delay = self.backoff_start  # only once caught up: a failing catch-up keeps backing off
                assert self._pubsub is not None
                await self._pump(self._pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                if self._closing:
                    return
                if self._pubsub is not None:
                    log.warning("lost the Redis pub/sub connection (%s: %s); reconnecting", type(e).__name__, e)
                else:
                    log.debug("Redis pub/sub still unreachable (%s: %s); retrying", type(e).__name__, e)
                await self._lose()
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self.backoff_cap)

    async def _pump(self, pubsub: PubSub) -> None:
        """Read messages until the connection fails (raises; it never returns)."""
        awaiting_pong = False
        while True:
            connection = pubsub.connection
            if connection is None or not connection.is_connected:
                # redis-py would reconnect silently here, dropping what was published meanwhile
                raise RedisConnectionError("the pub/sub connection was closed")
            message = await pubsub.get_message(timeout=self.heartbeat)
            if message is None:
                if awaiting_pong:
                    raise RedisTimeoutError(f"Redis did not answer a pub/sub PING within {self.heartbeat}s")
                await pubsub.ping()
                awaiting_pong = True
                continue
            awaiting_pong = False
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel = message["channel"]
        if kind == "message":
            if not (isinstance(channel, bytes) and channel.startswith(self._channel_prefix)):
                return
            room = channel[len(self._channel_prefix):].decode()
            try:
                self._deliver(room, bytes(message["data"]))
            except Exception:
                # a faulty listener must not stop the fan-out of every other room
                log.exception("a listener of room %r failed", room)
        elif kind == "subscribe":
            pending = self._confirm.get(channel)
            if pending:
                for fut in pending.popleft():
                    if not fut.done():
                        fut.set_result(None)
                if not pending:
                    del self._confirm[channel]

    async def _resubscribe(self) -> None:
        """A fresh PubSub subscribed to every room listened to now (never redis-py's own replay)."""
        assert self._sub_client is not None
        pubsub = self._sub_client.pubsub()
        try:
            await pubsub.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await self._discard(pubsub)
            raise
        # From here concurrent listen()/unlisten() calls go to this connection, after the SUBSCRIBE below.
        self._pubsub = pubsub
        channels = [self._channel(room) for room in self._listeners]
        for channel in channels:
            self._confirm.setdefault(channel, deque()).append(self._orphans.pop(channel, []))
        for waiters in self._orphans.values():  # rooms no longer listened to: nothing to wait for
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        self._orphans.clear()
        if channels:
            await pubsub.subscribe(*channels)

    async def _reconnected(self) -> None:
        """Let the server catch up on what pub/sub dropped. A Redis connection error here means the
        catch-up did not happen: raise it so the reader starts over and calls it again."""
        callback = self.on_reconnect
        if callback is None:
            return
        try:
            await callback()
        except _CONNECTION_LOST:
            raise
        except Exception:
            log.exception("on_reconnect failed")

    async def _lose(self) -> None:
        """Forget the current connection; its unconfirmed subscriptions wait for the next one."""
        pubsub, self._pubsub = self._pubsub, None
        for channel, entries in self._confirm.items():
            for waiters in entries:
                self._orphans.setdefault(channel, []).extend(f for f in waiters if not f.done())
        self._confirm = {}
        if pubsub is not None:
            await self._discard(pubsub)

    @staticmethod
    async def _discard(pubsub: PubSub) -> None:
        try:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        except Exception as e:  # it is broken already; closing it is only tidying up
            log.debug("closing a Redis pub/sub connection failed: %s", e)
