"""Logging set-up for the workflow's scripts: one log file per job."""

from __future__ import annotations

import logging
import sys
from types import TracebackType


def log_to(path: str) -> None:
    """Send this process's log records, and any uncaught error, to ``path``.

    Scripts call this first, so every job's story is in its ``log:`` file
    and the terminal keeps only Snakemake's own lines.
    """
    logging.basicConfig(
        filename=path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )

    def _hook(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        logging.getLogger("herbarium_dwc").error(
            "stopped: %s", error, exc_info=(kind, error, trace)
        )
        sys.__excepthook__(kind, error, trace)

    sys.excepthook = _hook
