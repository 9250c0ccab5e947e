"""Asking the running Snakemake to start no more jobs (herbarium_dwc.scheduler)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from herbarium_dwc.scheduler import note_path, note_scheduler, stop_scheduler

RUN = "openai-fake-vision-1-dwc-v1"

# A stand-in for Snakemake's scheduler: named "snakemake" on its command line,
# it notes SIGTERM in a file, as Snakemake turns it into a graceful exit.
STAND_IN = """
import signal, sys, time
def graceful(*_):
    open(sys.argv[1], "w").write("graceful")
    sys.exit(0)
signal.signal(signal.SIGTERM, graceful)
open(sys.argv[1] + ".ready", "w").close()
time.sleep(30)
"""


def _start(tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    flag = tmp_path / "flag"
    process = subprocess.Popen([sys.executable, "-c", STAND_IN, str(flag), name])
    deadline = time.monotonic() + 10
    while not (tmp_path / "flag.ready").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return process, flag


def _note(results: Path, pid: int, host: str | None = None) -> None:
    path = note_scheduler(results, RUN)
    data = json.loads(path.read_text())
    data["pid"] = pid
    if host is not None:
        data["host"] = host
    path.write_text(json.dumps(data))


def test_a_closed_gate_asks_the_noted_snakemake_to_stop(tmp_path: Path) -> None:
    process, flag = _start(tmp_path, "snakemake")
    try:
        _note(tmp_path, process.pid)
        assert stop_scheduler(tmp_path, RUN, "credits exhausted") is True
        assert process.wait(timeout=10) == 0
        assert flag.read_text() == "graceful"
    finally:
        process.kill()


def test_a_process_that_is_not_snakemake_is_left_alone(tmp_path: Path) -> None:
    # The noted id may have been reused by another program since.
    process, flag = _start(tmp_path, "something-else")
    try:
        _note(tmp_path, process.pid)
        assert stop_scheduler(tmp_path, RUN, "quota") is False
        assert process.poll() is None and not flag.exists()
    finally:
        process.kill()


def test_a_scheduler_on_another_host_or_no_note_is_not_signalled(
    tmp_path: Path,
) -> None:
    assert stop_scheduler(tmp_path, RUN, "no note yet") is False
    process, flag = _start(tmp_path, "snakemake")
    try:
        _note(tmp_path, process.pid, host="login-node-elsewhere")
        assert stop_scheduler(tmp_path, RUN, "quota") is False
        assert process.poll() is None and not flag.exists()
    finally:
        process.kill()


def test_each_run_stops_only_its_own_scheduler(tmp_path: Path) -> None:
    # Two runs (two models) share the results folder; the other run's note
    # names another process, which is left alone.
    process, flag = _start(tmp_path, "snakemake")
    try:
        _note(tmp_path, process.pid)
        assert note_path(tmp_path, "openai-other-model-dwc-v1").exists() is False
        assert stop_scheduler(tmp_path, "openai-other-model-dwc-v1", "quota") is False
        assert process.poll() is None and not flag.exists()
    finally:
        process.kill()
