"""Settings from the command line and the environment, in one place, with their reasons.

Command-line options win over environment variables (`REDIS_URL`, `SAMLING_DB`,
`SAMLING_SECRET`, `SAMLING_PUBLIC_URL`, `SAMLING_ALLOWED_ORIGINS`). The limits below can be
tuned with `SAMLING_<NAME>` too (e.g. `SAMLING_SEND_QUEUE=500`); the defaults suit a hall.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    db: str = "samling.db"
    redis: str | None = None
    secret: str | None = None  # None: generated once and kept in the store
    public_url: str | None = None  # the base of printed links; default http://host:port
    allowed_origins: tuple[str, ...] = ()  # besides the server's own origin
    max_frame: int = 16 * 1024  # bytes: a note is 280 chars; this leaves room for any real command
    send_queue: int = 2000  # frames waiting for one device before it is closed as too slow
    rate: float = 20.0  # commands per second per connection, sustained
    burst: int = 60  # commands a connection may send at once
    hello_timeout: float = 10.0  # seconds a socket may stay open without saying hello
    history: int = 1000  # events a resuming device may be sent instead of a snapshot
    snapshot_every: int = 200  # events between stored snapshots of a room
    follow_up_grace: float = 2.0  # s before any process carries a hall event into tables that lack it
    ws_ping: float = 20.0  # seconds between WebSocket pings, and to wait for the pong, before dropping a peer

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host
        return f"http://{host}:{self.port}"


TUNABLE = {"max_frame": int, "send_queue": int, "rate": float, "burst": int, "hello_timeout": float,
           "history": int, "snapshot_every": int, "ws_ping": float,
           "follow_up_grace": float}


def from_env(**given: object) -> Settings:
    """Settings from `given` (None means not given) falling back to the environment."""
    env = os.environ
    values: dict[str, object] = {
        "db": env.get("SAMLING_DB", "samling.db"),
        "redis": env.get("REDIS_URL") or None,
        "secret": env.get("SAMLING_SECRET") or None,
        "public_url": env.get("SAMLING_PUBLIC_URL") or None,
        "allowed_origins": tuple(o for o in env.get("SAMLING_ALLOWED_ORIGINS", "").split(",") if o),
    }
    for name, kind in TUNABLE.items():
        raw = env.get(f"SAMLING_{name.upper()}")
        if raw:
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ValueError(f"SAMLING_{name.upper()} must be a number, not {raw!r}") from None
    values.update({k: v for k, v in given.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]
