"""The shared rate gate: several processes, one store (SQLite, and Redis in CI).

Every behaviour test runs on both stores. The Redis runs need the
redis-server that .ci/with-redis.sh starts on 127.0.0.1 (it sets
HERBARIUM_REDIS_URL) and skip without it.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from herbarium_dwc.errors import ConfigError, GateClosedError, TransientError
from herbarium_dwc.ratelimit import (
    SLOW_FACTOR,
    GateLocation,
    GateSettings,
    RateGate,
    RedisGateStore,
    gate_location,
    note_gate_location,
    noted_gate_location,
    redact_url,
)

from .conftest import unused_loopback_port

REDIS_URL = os.environ.get("HERBARIUM_REDIS_URL", "")


@pytest.fixture(params=["sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GateLocation]:
    """Where the gate under test lives; each test gets a fresh one."""
    if request.param == "sqlite":
        yield GateLocation(str(tmp_path / "g.sqlite"))
        return
    if not REDIS_URL:
        pytest.skip("HERBARIUM_REDIS_URL is not set (CI sets it via .ci/with-redis.sh)")
    location = GateLocation(REDIS_URL, f"herbarium-dwc-test:{uuid.uuid4().hex}")
    yield location
    store = location.open()
    assert isinstance(store, RedisGateStore)
    store._client.delete(location.name)


def _gate(where: GateLocation, **settings: object) -> RateGate:
    return RateGate(where.open(), GateSettings(**settings))  # type: ignore[arg-type]


def _take_turns(
    where: GateLocation, count: int, rpm: float, out: multiprocessing.Queue
) -> None:
    gate = _gate(where, rpm=rpm, concurrency=8)
    for _ in range(count):
        with gate.request():
            out.put(time.time())


def test_processes_share_one_rate(where: GateLocation) -> None:
    rpm, per_process, processes = 1200.0, 8, 4
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(
            target=_take_turns,
            args=(where, per_process, rpm, queue),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    times = sorted(queue.get(timeout=60) for _ in range(processes * per_process))
    for worker in workers:
        worker.join(timeout=30)
    interval = 60 / rpm
    # Turns are reserved one interval apart. A process woken late by a busy
    # machine comes closer to the next turn, but any five gaps together still
    # span nearly five intervals; four processes pacing themselves alone would
    # squeeze them into little more than one.
    spans = [b - a for a, b in zip(times, times[5:], strict=False)]
    assert min(spans) >= 5 * interval - 0.1
    assert times[-1] - times[0] >= (len(times) - 1) * interval - 0.05


def test_a_429_pauses_everyone_and_slows_the_rate(where: GateLocation) -> None:
    first = _gate(where, rpm=600)
    other = _gate(where, rpm=600)
    first.rate_limited(0.6, "429 from the test")
    started = time.time()
    with other.request():
        waited = time.time() - started
    assert waited >= 0.55
    assert other.state().rate_factor == pytest.approx(SLOW_FACTOR, abs=0.01)
    # A second 429 right away answers requests sent together: no extra slowdown.
    other.rate_limited(0.0, "echo")
    assert first.state().rate_factor == pytest.approx(SLOW_FACTOR, abs=0.01)


def test_a_cool_down_longer_than_max_wait_stops_the_job(where: GateLocation) -> None:
    gate = _gate(where, max_wait_s=10)
    gate.rate_limited(3600, "come back in an hour")
    with pytest.raises(TransientError, match="pause for 3600 s"), gate.request():
        pass


def test_the_stop_switch_refuses_everyone_until_reopened(where: GateLocation) -> None:
    first = _gate(where)
    other = _gate(where)
    first.close("credits", "no credits left")
    first.close("auth", "a later echo")
    with (
        pytest.raises(GateClosedError, match="no credits left") as info,
        other.request(),
    ):
        pass
    assert info.value.kind == "credits"
    other.reopen()
    with other.request():
        pass


def test_benched_keys_give_way_and_reopen_keeps_timed_benches(
    where: GateLocation,
) -> None:
    gate = _gate(where)
    names = ["KEY_A", "KEY_B", "KEY_C"]
    gate.bench_key("KEY_A", None, "refused", "auth")
    gate.bench_key("KEY_B", time.time() + 3600, "daily quota", "quota")
    gate.bench_key("KEY_C", time.time() - 1, "quota reset already", "quota")
    assert gate.usable_keys(names) == ["KEY_C"]
    gate.reopen()
    assert gate.usable_keys(names) == ["KEY_A", "KEY_C"]
    gate.reopen(all_keys=True)
    assert gate.usable_keys(names) == names


def test_the_budget_closes_the_gate_and_holds_across_reopen(
    where: GateLocation,
) -> None:
    gate = _gate(where, budget_usd=0.05)
    assert gate.add_spend("run-a", 0.03) == pytest.approx(0.03)
    gate.check_open("run-a")
    gate.add_spend("run-a", 0.03)
    with pytest.raises(GateClosedError, match="budget_usd"):
        gate.check_open("run-a")
    # A new start reopens the gate, but the spend is kept: the first check of
    # run-a closes it again. (Another run's budget is its own.)
    gate.reopen()
    gate.check_open("run-b")
    with pytest.raises(GateClosedError) as info:
        gate.check_open("run-a")
    assert info.value.kind == "budget"


def test_in_flight_slots_are_capped_and_freed_by_dead_processes(
    where: GateLocation,
) -> None:
    holder = _gate(where, concurrency=1)
    released = threading.Event()

    def hold() -> None:
        with holder.request():
            released.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.2)
    waiter = _gate(where, concurrency=1)
    started = time.time()
    threading.Timer(0.5, released.set).start()
    with waiter.request():
        assert time.time() - started >= 0.45
    thread.join()
    # A process killed while holding a slot does not keep it.
    code = (
        "import sys, os; sys.path.insert(0, sys.argv[2]);"
        "from herbarium_dwc.ratelimit import GateLocation, GateSettings, RateGate;"
        "where = GateLocation(sys.argv[1], sys.argv[3]);"
        "gate = RateGate(where.open(), GateSettings(concurrency=1));"
        "cm = gate.request(); cm.__enter__(); os._exit(0)"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    subprocess.run(
        [sys.executable, "-c", code, where.store, src, where.name], check=True
    )
    assert _gate(where).report()["in_flight"] == 1
    started = time.time()
    with _gate(where, concurrency=1).request():
        assert time.time() - started < 1


def test_a_redis_gate_nobody_answers_fails_fast_and_says_where() -> None:
    url = f"redis://:secret@127.0.0.1:{unused_loopback_port()}/0"
    started = time.monotonic()
    with pytest.raises(TransientError) as info:
        GateLocation(url, "herbarium-dwc:gate:x").open(timeout_s=2)
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert "cannot reach the rate gate's Redis at redis://127.0.0.1:" in message
    assert "secret" not in message


def test_a_redis_url_names_one_gate_per_results_folder(tmp_path: Path) -> None:
    config = {"results": str(tmp_path / "r1"), "openai": {"gate": "redis://h:1/0"}}
    first = gate_location(config)
    assert first.is_redis
    assert first.name == f"herbarium-dwc:gate:{(tmp_path / 'r1').resolve()}"
    config["openai"]["gate_name"] = "shared-key-account"  # type: ignore[index]
    assert gate_location(config).name == "herbarium-dwc:gate:shared-key-account"
    plain = gate_location({"results": str(tmp_path)})
    assert (plain.is_redis, plain.store) == (False, str(tmp_path / "gate.sqlite"))


def test_the_noted_redis_gate_keeps_no_password(tmp_path: Path) -> None:
    url = "redis://user:secret@127.0.0.1:6390/2"
    config = {"results": str(tmp_path), "openai": {"gate": url, "gate_name": "g"}}
    note = note_gate_location(config)
    assert "secret" not in note.read_text()
    noted = noted_gate_location(tmp_path)
    assert noted == GateLocation("redis://127.0.0.1:6390/2", "herbarium-dwc:gate:g")


def test_a_url_that_is_not_redis_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a Redis URL"):
        RedisGateStore("redis://127.0.0.1:notaport/0", "k")


@pytest.fixture
def noted_redis_gate(tmp_path: Path) -> Iterator[RateGate]:
    """A Redis gate that a workflow run with results in tmp_path has noted."""
    if not REDIS_URL:
        pytest.skip("HERBARIUM_REDIS_URL is not set (CI sets it via .ci/with-redis.sh)")
    config = {
        "results": str(tmp_path),
        "openai": {"gate": REDIS_URL, "gate_name": f"test-{uuid.uuid4().hex}"},
    }
    note_gate_location(config)
    location = gate_location(config)
    store = location.open()
    assert isinstance(store, RedisGateStore)
    yield RateGate(store, GateSettings())
    store._client.delete(location.name)


def test_status_reads_a_redis_gate_the_workflow_noted(
    tmp_path: Path, noted_redis_gate: RateGate
) -> None:
    from herbarium_dwc.gate_state import read_gate_state

    noted_redis_gate.close("quota", "HTTP 429: daily quota used up")
    state = read_gate_state(tmp_path)
    assert (state.mode, state.reason) == ("stopped", "HTTP 429: daily quota used up")


def test_the_gate_command_finds_and_reopens_a_redis_gate(
    tmp_path: Path, noted_redis_gate: RateGate, capsys: pytest.CaptureFixture[str]
) -> None:
    from herbarium_dwc.cli import main

    noted_redis_gate.close("credits", "HTTP 402: no credits")
    assert main(["gate", str(tmp_path)]) == 0
    assert '"kind": "credits"' in capsys.readouterr().out
    assert main(["gate", str(tmp_path), "--reopen"]) == 0
    store = noted_redis_gate.store
    assert isinstance(store, RedisGateStore)
    assert f"reopened {REDIS_URL} key {store.key}" in capsys.readouterr().out
    assert noted_redis_gate.state().stop_kind is None


@pytest.mark.parametrize(
    "url",
    [
        "redis://:se/cr#et@gate.example:6379/0",
        "redis://user:p?w@gate.example:6379/0",
        "redis://gate.example:6379/0?password=secret",
    ],
)
def test_redacted_redis_urls_keep_no_secret(url: str) -> None:
    assert redact_url(url) == "redis://gate.example:6379/0"
    location = GateLocation(url, "herbarium-dwc:gate:x")
    assert "se" not in location.describe().replace("gate.example", "")
    assert url not in repr(location)


def test_a_server_that_does_not_speak_redis_is_a_clear_transient_error() -> None:
    # A wrong port with another service on it: the reply is not Redis's.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises((TransientError, ConfigError)) as info:
            GateLocation(f"redis://127.0.0.1:{port}/0", "k").open(timeout_s=2)
        thread.join(timeout=5)
    assert f"rate gate's Redis at redis://127.0.0.1:{port}/0" in str(info.value)


def test_the_gate_command_wants_a_name_with_a_redis_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from herbarium_dwc.cli import main

    assert main(["gate", str(tmp_path), "--gate", "redis://127.0.0.1:1/0"]) != 0
    assert "add --gate-name" in capsys.readouterr().err
