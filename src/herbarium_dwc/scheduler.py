"""Asking the running Snakemake to start no more jobs once the gate closes.

With ``keep-going`` (profiles/default), a job that fails does not stop
Snakemake from starting the others. That is right for one bad specimen, but
when the rate gate's stop switch closes (quota, credits, a refused key,
budget), every remaining extraction job would start only to fail at once:
on a 300,000-sheet run that is days of job start-ups. So the workflow notes
the process id of its scheduler when it starts (:func:`note_scheduler`), and
the job that meets the closed gate, or finds the API endpoint unreachable
from this host, sends that process SIGTERM (:func:`stop_scheduler`), which
Snakemake takes as "finish the running jobs, start no new ones" (its
graceful exit). Finished records stay; the specimens
left have no record and are extracted by the next run.

Known shortcoming: only a job on the same host as the scheduler can send the
signal. With ``api_on_cluster: true`` on other nodes the remaining jobs
still start and fail at once, each without sending a request.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from pathlib import Path

from herbarium_dwc.record import write_json_atomic

logger = logging.getLogger(__name__)

NOTES = Path("work") / "scheduler"


def note_path(results: str | Path, run: str) -> Path:
    """Return where the scheduler of run ``run`` is noted.

    One note per run: two runs (say two models) may share a results folder
    at the same time, and each must stop only its own Snakemake.
    """
    return Path(results) / NOTES / f"{run}.json"


def note_scheduler(results: str | Path, run: str) -> Path:
    """Write this process's host and id to ``<results>/work/scheduler/<run>.json``.

    The workflow calls this in ``onstart``, which runs in Snakemake's main
    (scheduling) process.

    :param results: the results folder.
    :param run: the run name.
    :returns: the note's path.

    >>> note_scheduler("results", "openai-gpt-4o-mini-dwc-v1").name
    'openai-gpt-4o-mini-dwc-v1.json'
    """
    path = note_path(results, run)
    write_json_atomic(path, {"host": socket.gethostname(), "pid": os.getpid()})
    return path


def _is_snakemake(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"snakemake" in command


def stop_scheduler(results: str | Path, run: str, reason: str) -> bool:
    """Ask the Snakemake that runs this results folder to start no new jobs.

    Sends SIGTERM to the process noted by :func:`note_scheduler` when it runs
    on this host and is still a Snakemake process (a reused process id is
    left alone). Never raises.

    :param results: the results folder.
    :param run: the run name.
    :param reason: why, for the log.
    :returns: True when the signal was sent.
    """
    try:
        note = json.loads(note_path(results, run).read_text(encoding="utf-8"))
        host, pid = str(note["host"]), int(note["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname():
        return False
    if not _is_snakemake(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError as exc:
        logger.info("could not ask Snakemake (pid %d) to stop: %s", pid, exc)
        return False
    logger.warning(
        "asked Snakemake (pid %d) to start no new jobs and to finish the running "
        "ones: %s",
        pid,
        reason,
    )
    return True
