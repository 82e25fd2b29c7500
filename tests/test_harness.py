"""The harness itself: if these helpers lied, every fault test built on them would prove nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from support.processes import RedisServer


@pytest.mark.redis
def test_redis_server_survives_sigkill_with_acknowledged_writes(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.ping()
        with server.client() as r:
            assert r.set("samling:harness", "acked")

        server.kill()
        assert not server.alive
        assert not server.ping()
        with server.client(timeout=0.5) as r, pytest.raises(redis.ConnectionError):
            r.get("samling:harness")

        server.restart()
        assert server.ping()
        with server.client() as r:
            # appendfsync always: a write redis said OK to is on disk before the SIGKILL.
            assert r.get("samling:harness") == b"acked"
    finally:
        server.stop()
    assert not server.alive
