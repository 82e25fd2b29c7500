"""Settings from the command line and the environment, in one place, with their reasons.

Command-line options win over environment variables (`REDIS_URL`, `SAMLING_DB`,
`SAMLING_SECRET`, `SAMLING_PUBLIC_URL`, `SAMLING_ALLOWED_ORIGINS`, `SAMLING_TRUSTED_PROXIES`).
The limits below can be tuned with `SAMLING_<NAME>` too (e.g. `SAMLING_SEND_QUEUE=500`); the
defaults suit a hall.
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
    # Reverse proxies (IPs or CIDRs) whose X-Forwarded-For names the client. Empty: the TCP peer is
    # the client and a forwarded header is ignored, so a forged one cannot dodge a per-address limit.
    trusted_proxies: tuple[str, ...] = ()
    max_frame: int = 16 * 1024  # bytes: a note is 280 chars; this leaves room for any real command
    send_queue: int = 2000  # frames waiting for one device before it is closed as too slow
    rate: float = 20.0  # commands per second per connection, sustained
    burst: int = 60  # commands a connection may send at once
    hello_timeout: float = 10.0  # seconds a socket may stay open without saying hello
    # Per client address (server/limits.py). A whole hall may reach us through one NAT address
    # (the venue's WiFi in front of a hosted server), so these stop a runaway script, not a hall:
    # 400 sockets is 50 tables of 8 tablets; 4000 in all is ten such halls on one process.
    max_per_address: int = 400  # open sockets from one address; more are refused at the handshake (429)
    max_connections: int = 4000  # open sockets in this process; more are refused at the handshake (503)
    # A hall reconnecting after a restart comes back within seconds: 200 at once, then 50 a second.
    connect_rate: float = 50.0  # handshakes per second per address, sustained
    connect_burst: int = 200  # handshakes one address may make at once
    # All the sockets of one address together: 400 tablets each casting a vote in the same second
    # fit in the burst; one socket alone is held to `rate`/`burst` first.
    address_rate: float = 400.0  # commands per second per address, sustained
    address_burst: int = 2000  # commands one address may send at once
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
           "history": int, "snapshot_every": int, "follow_up_grace": float,
           "max_per_address": int, "max_connections": int,
           "connect_rate": float, "connect_burst": int, "address_rate": float, "address_burst": int,
           "ws_ping": float}


def from_env(**given: object) -> Settings:
    """Settings from `given` (None means not given) falling back to the environment."""
    env = os.environ
    values: dict[str, object] = {
        "db": env.get("SAMLING_DB", "samling.db"),
        "redis": env.get("REDIS_URL") or None,
        "secret": env.get("SAMLING_SECRET") or None,
        "public_url": env.get("SAMLING_PUBLIC_URL") or None,
        "allowed_origins": tuple(o for o in env.get("SAMLING_ALLOWED_ORIGINS", "").split(",") if o),
        "trusted_proxies": tuple(p.strip() for p in env.get("SAMLING_TRUSTED_PROXIES", "").split(",") if p.strip()),
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
