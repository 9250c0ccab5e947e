"""What the shared rate gate is doing, for ``herbarium-dwc status``.

Status shows whether the gate is open, cooling down after a 429 or stopped
(quota, credit or authentication trouble) and why. It finds the gate the way
the workflow noted it (``<results>/work/gate.json``: a SQLite file or a Redis
URL, see :func:`herbarium_dwc.ratelimit.noted_gate_location`) and reads it
through :class:`herbarium_dwc.ratelimit.RateGate`, so there is one reader of
the gate's layout. A SQLite gate is opened read-only and never waited on;
a Redis gate gets a short timeout. Any trouble reading it shows as
``unknown`` with the reason: status itself never fails on the gate.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herbarium_dwc.errors import HerbariumError
from herbarium_dwc.ratelimit import GateSettings, RateGate, noted_gate_location

logger = logging.getLogger(__name__)

GateMode = Literal["open", "cooling", "stopped", "unused", "unknown"]

# Status answers within seconds; a gate that does not answer in this time is
# shown as unknown rather than waited for.
READ_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class GateState:
    """The rate gate's state for display.

    :param mode: ``open``, ``cooling`` (a cool-down is running), ``stopped``
        (no request is sent until someone fixes the cause and reruns),
        ``unused`` (no API run has used this results folder) or ``unknown``
        (the gate could not be read).
    :param reason: why it is cooling or stopped, or why the state is unknown.
    :param until: for ``cooling``, Unix time the cool-down ends.
    """

    mode: GateMode
    reason: str = ""
    until: float | None = None


def read_gate_state(results: str | Path, now: float | None = None) -> GateState:
    """Read the state of the gate a results folder's API runs use, never failing.

    :param results: the results folder.
    :param now: the current Unix time (for tests); defaults to the clock.
    :returns: the state; ``unknown`` with a reason when the gate cannot be read.

    >>> read_gate_state("results").mode
    'unused'
    """
    location = noted_gate_location(results)
    if location is None:
        return GateState("unused", "no API run has used this results folder")
    if not location.exists():
        return GateState("unknown", f"{location.describe()} does not exist")
    now = time.time() if now is None else now
    try:
        store = location.open(timeout_s=READ_TIMEOUT_S, read_only=True)
        state = RateGate(store, GateSettings(), clock=lambda: now).state()
    except HerbariumError as exc:
        logger.info("cannot read the rate gate %s: %s", location.describe(), exc)
        return GateState("unknown", str(exc))
    if state.stop_kind:
        return GateState("stopped", state.stop_reason or f"stopped ({state.stop_kind})")
    if state.cool_until > now:
        reason = state.cool_reason or "cool-down after a rate limit"
        return GateState("cooling", reason, state.cool_until)
    return GateState("open")
