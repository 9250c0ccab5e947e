"""The shared rate gate: several processes, one SQLite store."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from herbarium_dwc.errors import GateClosedError, TransientError
from herbarium_dwc.ratelimit import (
    SLOW_FACTOR,
    GateSettings,
    RateGate,
    SQLiteGateStore,
)


def _gate(path: Path, **settings: object) -> RateGate:
    return RateGate(SQLiteGateStore(path), GateSettings(**settings))  # type: ignore[arg-type]


def _take_turns(path: str, count: int, rpm: float, out: multiprocessing.Queue) -> None:
    gate = _gate(Path(path), rpm=rpm, concurrency=8)
    for _ in range(count):
        with gate.request():
            out.put(time.time())


def test_processes_share_one_rate(tmp_path: Path) -> None:
    rpm, per_process, processes = 1200.0, 8, 4
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    workers = [
        context.Process(
            target=_take_turns,
            args=(str(tmp_path / "g.sqlite"), per_process, rpm, queue),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    times = sorted(queue.get(timeout=60) for _ in range(processes * per_process))
    for worker in workers:
        worker.join(timeout=30)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    interval = 60 / rpm
    # Turns are reserved, so they never come closer than the interval (a few
    # ms of scheduling noise aside) and the whole takes as long as it must.
    assert min(gaps) >= interval - 0.02
    assert times[-1] - times[0] >= (len(times) - 1) * interval - 0.05


def test_a_429_pauses_everyone_and_slows_the_rate(tmp_path: Path) -> None:
    first = _gate(tmp_path / "g.sqlite", rpm=600)
    other = _gate(tmp_path / "g.sqlite", rpm=600)
    first.rate_limited(0.6, "429 from the test")
    started = time.time()
    with other.request():
        waited = time.time() - started
    assert waited >= 0.55
    assert other.state().rate_factor == pytest.approx(SLOW_FACTOR, abs=0.01)
    # A second 429 right away answers requests sent together: no extra slowdown.
    other.rate_limited(0.0, "echo")
    assert first.state().rate_factor == pytest.approx(SLOW_FACTOR, abs=0.01)


def test_a_cool_down_longer_than_max_wait_stops_the_job(tmp_path: Path) -> None:
    gate = _gate(tmp_path / "g.sqlite", max_wait_s=10)
    gate.rate_limited(3600, "come back in an hour")
    with pytest.raises(TransientError, match="pause for 3600 s"), gate.request():
        pass


def test_the_stop_switch_refuses_everyone_until_reopened(tmp_path: Path) -> None:
    first = _gate(tmp_path / "g.sqlite")
    other = _gate(tmp_path / "g.sqlite")
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


def test_benched_keys_give_way_and_reopen_keeps_timed_benches(tmp_path: Path) -> None:
    gate = _gate(tmp_path / "g.sqlite")
    names = ["KEY_A", "KEY_B", "KEY_C"]
    gate.bench_key("KEY_A", None, "refused", "auth")
    gate.bench_key("KEY_B", time.time() + 3600, "daily quota", "quota")
    gate.bench_key("KEY_C", time.time() - 1, "quota reset already", "quota")
    assert gate.usable_keys(names) == ["KEY_C"]
    gate.reopen()
    assert gate.usable_keys(names) == ["KEY_A", "KEY_C"]
    gate.reopen(all_keys=True)
    assert gate.usable_keys(names) == names


def test_the_budget_closes_the_gate_and_holds_across_reopen(tmp_path: Path) -> None:
    gate = _gate(tmp_path / "g.sqlite", budget_usd=0.05)
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


def test_in_flight_slots_are_capped_and_freed_by_dead_processes(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    holder = _gate(path, concurrency=1)
    released = threading.Event()

    def hold() -> None:
        with holder.request():
            released.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.2)
    waiter = _gate(path, concurrency=1)
    started = time.time()
    threading.Timer(0.5, released.set).start()
    with waiter.request():
        assert time.time() - started >= 0.45
    thread.join()
    # A process killed while holding a slot does not keep it.
    code = (
        "import sys, os; sys.path.insert(0, sys.argv[2]);"
        "from herbarium_dwc.ratelimit import *;"
        "gate = RateGate(SQLiteGateStore(sys.argv[1]), GateSettings(concurrency=1));"
        "cm = gate.request(); cm.__enter__(); os._exit(0)"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    subprocess.run([sys.executable, "-c", code, str(path), src], check=True)
    assert _gate(path).report()["in_flight"] == 1
    started = time.time()
    with _gate(path, concurrency=1).request():
        assert time.time() - started < 1
