"""Real processes for the tests: redis-server, the Samling server and its CLI.

Nothing here is mocked. The guarantees the protocol makes (durable acks, exactly once, resume after
a crash) are only worth testing against processes that can really be killed, so every helper starts
a real OS process, waits until it genuinely answers, and can stop it politely or SIGKILL it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import httpx
import redis

#: The secret the test processes sign tokens with; fixed so a restarted server accepts old tokens.
TEST_SECRET = "test-secret-" + "5a4d1e6c0b3f4a7e9d2c8b1a6f0e3d7c"

#: The repository root; servers run from here so `python -m server` finds the working tree.
REPO_ROOT = Path(__file__).resolve().parents[2]

_live: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Kill anything still running when pytest exits (even after Ctrl-C), so no orphan holds a port."""
    for proc in list(_live):
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class ProcessError(RuntimeError):
    """A helper process failed to start or answer; the message carries the tail of its log."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS picks it, so parallel runs don't clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    """The end of a log file, for error messages that explain why a process did not come up."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


def _spawn(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start argv with stdout+stderr appended to log; the parent closes its copy of the file at once."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None, cwd=REPO_ROOT,
        )
    _live.add(proc)
    return proc


def _reap(proc: subprocess.Popen[bytes] | None, grace: float) -> int | None:
    """Wait up to grace seconds for proc to exit, then SIGKILL it; returns its exit code."""
    if proc is None:
        return None
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _live.discard(proc)
    return proc.returncode


class RedisServer:
    """A throwaway redis-server on a free loopback port, with an fsync-always AOF in workdir.

    appendfsync always makes every acknowledged write survive SIGKILL, which is what the fault
    tests need: a crash of redis must lose nothing it said OK to.
    """

    def __init__(self, workdir: Path, port: int | None = None, executable: str = "redis-server") -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.executable = executable
        self.log = self.workdir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout: float = 2.0) -> redis.Redis:
        """A sync redis-py client; use it in a `with` block so its socket is closed."""
        return redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)

    def ping(self) -> bool:
        """True when the server answers PING right now."""
        try:
            with self.client(timeout=0.5) as r:
                return bool(r.ping())
        except redis.RedisError:
            return False

    def start(self, timeout: float = 10.0) -> Self:
        """Start redis-server and wait until it answers PING (it replays its AOF first)."""
        exe = shutil.which(self.executable)
        if exe is None:
            raise ProcessError(
                f"{self.executable} is not on PATH; run scripts/test, which installs it "
                "(apt-get install -y redis-server)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir),
            "--daemonize", "no",
        ]
        self.proc = _spawn(argv, self.log)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None:
                raise ProcessError(f"redis-server exited with {self.proc.returncode}:\n{_tail(self.log)}")
            if time.monotonic() > deadline:
                self.kill()
                raise ProcessError(f"redis-server did not answer PING in {timeout}s:\n{_tail(self.log)}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Shut down cleanly (SHUTDOWN NOSAVE), falling back to SIGKILL after 5 s."""
        if not self.alive:
            _reap(self.proc, 0)
            return
        try:
            with self.client(timeout=1.0) as r:
                r.shutdown(nosave=True)
        except redis.RedisError:
            pass  # the connection drops as the server goes: that is success
        _reap(self.proc, 5.0)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        _reap(self.proc, 5.0)

    def restart_empty(self, timeout: float = 10.0) -> Self:
        """SIGKILL, delete the data files, start again on the same port: Redis back with nothing
        (a Redis without persistence that crashed, or a lost disk)."""
        self.kill()
        for path in self.workdir.iterdir():
            if path.name.startswith("appendonly") or path.suffix == ".rdb":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        return self.start(timeout)

    def restart(self, timeout: float = 10.0) -> Self:
        """Stop if running, then start on the same port and dir so the same URL sees the AOF data."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start() if not self.alive else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess:
    """One `python -m server serve` process on a free loopback port, talking to a SQLite db
    (and redis when given), its output logged to workdir/server-<port>.log.

    Several of these may share a db or a redis to play a multi-process deployment.
    """

    def __init__(
        self,
        *,
        db: Path | str,
        workdir: Path,
        secret: str = TEST_SECRET,
        redis: str | None = None,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.db = Path(db)
        self.workdir = Path(workdir)
        self.secret = secret
        self.redis = redis
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.log = self.workdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--db", str(self.db)]
        if self.redis:
            argv += ["--redis", self.redis]
        return argv + self.extra_args

    def start(self) -> Self:
        """Start the server and block until GET /healthz answers 200, or raise with its log tail."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as f:
            f.write(f"\n--- start: {' '.join(self.argv)}\n")
        self.proc = _spawn(self.argv, self.log, _env(self.secret, self.extra_env))
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(trust_env=False, timeout=1.0) as http:
            while True:
                if self.proc.poll() is not None:
                    _reap(self.proc, 0)
                    raise ProcessError(
                        f"server exited with {self.proc.returncode} before /healthz answered:\n"
                        f"{_tail(self.log)}"
                    )
                try:
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise ProcessError(
                        f"server did not answer /healthz within {self.startup_timeout}s:\n{_tail(self.log)}"
                    )
                time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM (a graceful shutdown: drain, close sockets), SIGKILL after 5 s; returns the exit code."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
        return _reap(self.proc, 5.0)

    def kill(self) -> int | None:
        """SIGKILL: a crash. Whatever was acked must survive this."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
        return _reap(self.proc, 5.0)

    def restart(self, *, crash: bool = False) -> Self:
        """Stop (or kill, with crash=True) and start again on the same port, so clients can reconnect."""
        if crash:
            self.kill()
        else:
            self.stop()
        return self.start()

    def log_text(self) -> str:
        """Everything the server printed so far, across restarts."""
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _env(secret: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server or CLI run: ours, minus stray SAMLING_* settings, plus the secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMLING_")}
    env.update(SAMLING_SECRET=secret, PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def run_cli(
    args: Sequence[str],
    *,
    db: Path | str | None = None,
    redis: str | None = None,
    secret: str = TEST_SECRET,
    timeout: float = 30.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m server ARGS [--db DB] [--redis URL]`, as an organiser would from a shell."""
    argv = [sys.executable, "-m", "server", *args]
    if db is not None:
        argv += ["--db", str(db)]
    if redis is not None:
        argv += ["--redis", redis]
    done = subprocess.run(argv, capture_output=True, text=True, env=_env(secret), cwd=REPO_ROOT,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise ProcessError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stderr}{done.stdout}")
    return done


_ASSEMBLY_KEYS = {"assembly", "facilitator_token", "facilitator_url", "display_token", "display_url", "tables"}
_TABLE_KEYS = {"id", "name", "code", "join_url", "host_code"}


def create_assembly(
    name: str,
    tables: int,
    db: Path | str | None = None,
    redis: str | None = None,
    *,
    secret: str = TEST_SECRET,
) -> dict[str, Any]:
    """Create an assembly through the real CLI and return its JSON (tokens, join codes, host codes).

    Going through the CLI rather than the store keeps the tests honest about what an organiser gets.
    """
    done = run_cli(["assembly", "create", name, "--tables", str(tables), "--json"],
                   db=db, redis=redis, secret=secret)
    try:
        out: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise ProcessError(f"assembly create printed no JSON ({e}):\n{done.stdout}\n{done.stderr}") from e
    missing = _ASSEMBLY_KEYS - out.keys()
    if missing or len(out["tables"]) != tables or any(_TABLE_KEYS - t.keys() for t in out["tables"]):
        raise ProcessError(f"assembly create JSON lacks {sorted(missing) or 'table fields'}:\n{done.stdout}")
    return out
