"""The per-address accounts on their own (server/limits.py), with a clock the test turns."""

from __future__ import annotations

import logging

import pytest

from server import limits
from server.limits import AddressLimits, Buckets, QuietDenials, client_address
from server.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def accounts(clock: Clock, **settings: object) -> AddressLimits:
    return AddressLimits(Settings(**settings), clock)  # type: ignore[arg-type]


def test_sockets_are_capped_per_address_and_in_all_and_given_back() -> None:
    a = accounts(Clock(), max_per_address=2, max_connections=3)
    assert [a.admit("1.1.1.1") for _ in range(3)] == [None, None, "per_address"]
    assert a.admit("2.2.2.2") is None
    assert a.admit("3.3.3.3") == "total"
    a.release("1.1.1.1")
    assert a.admit("3.3.3.3") is None and a.total == 3
    for address in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        a.release(address)
    assert a.total == 0 and a.open == {}
    assert a.refused == {"per_address": 1, "total": 1}


def test_connects_are_rate_limited_per_address_and_refill() -> None:
    clock = Clock()
    a = accounts(clock, connect_rate=2.0, connect_burst=3)
    results = [a.admit("1.1.1.1") for _ in range(4)]
    assert results == [None, None, None, "connect_rate"]
    assert a.admit("2.2.2.2") is None  # another address has its own bucket
    clock.now += 0.5  # one more token
    assert a.admit("1.1.1.1") is None and a.admit("1.1.1.1") == "connect_rate"


def test_commands_are_limited_per_address() -> None:
    clock = Clock()
    a = accounts(clock, address_rate=1.0, address_burst=2)
    assert [a.command("x") for _ in range(3)] == [True, True, False]
    assert a.command("y")
    clock.now += 1
    assert a.command("x") and a.refused["address_rate"] == 1


def test_buckets_forget_full_ones_first_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full bucket is the same as a new one, so it is forgotten first; a spent one is kept (its
    address stays throttled); and however many addresses come by, the map stays bounded."""
    monkeypatch.setattr(limits, "KEEP", 10)
    clock = Clock()
    buckets = Buckets(rate=1.0, burst=5, clock=clock)
    for _ in range(5):
        assert buckets.allow("busy")
    for i in range(9):
        assert buckets.allow(f"passer-{i}")
    clock.now += 1.0  # the passers are full again; "busy" has 1 token
    assert buckets.allow("newcomer")
    assert set(buckets.buckets) == {"busy", "newcomer"}
    assert buckets.allow("busy") and not buckets.allow("busy")
    for i in range(100):
        buckets.allow(f"spray-{i}")
        assert len(buckets.buckets) <= 10


def test_the_client_address_is_the_scope_client() -> None:
    assert client_address({"client": ("10.0.0.1", 5555)}) == "10.0.0.1"
    assert client_address({"client": None}) == "?"
    assert client_address({}) == "?"


def test_only_our_own_denials_are_kept_out_of_the_log() -> None:
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1,
                               "ASGI callable returned without completing handshake.", None, None)
    other = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None, None)
    quiet = QuietDenials()
    assert quiet.filter(record) and quiet.filter(other)  # not denied in this context: both show
    token = limits.denied.set(True)
    try:
        assert not quiet.filter(record) and quiet.filter(other)
    finally:
        limits.denied.reset(token)
