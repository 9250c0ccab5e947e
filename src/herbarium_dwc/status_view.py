"""How ``herbarium-dwc status`` looks: one screen drawn with rich.

The same renderable is printed once (plain text when the output is not a
terminal, so it can be piped or tested) or refreshed in place by ``--watch``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from herbarium_dwc.status import RATE_WINDOW_S, StatusSnapshot, duration
from herbarium_dwc.status_collector import StatusCollector


def _clock(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short_clock(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return datetime.fromtimestamp(stamp, UTC).strftime("%H:%M:%S")


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.4f}" if value < 10 else f"${value:,.2f}"


def _progress(snap: StatusSnapshot) -> RenderableType:
    total = snap.range_size if snap.range_size is not None else max(snap.done, 1)
    share = snap.done / total if total else 0.0
    line = Table.grid(padding=(0, 1))
    line.add_column(width=40)
    line.add_column()
    line.add_row(
        ProgressBar(total=total or 1, completed=snap.done, width=40),
        Text(f"{share:6.1%}  {snap.done:,} of {total:,}", style="bold"),
    )
    return line


def render_status(snap: StatusSnapshot) -> RenderableType:
    """Return the status screen for one snapshot.

    :param snap: what :meth:`StatusCollector.collect` returned.
    :returns: a rich renderable; print it with ``rich.console.Console``.

    >>> Console().print(render_status(collect_status("results")))
    """
    head = Text.assemble(
        ("herbarium-dwc status", "bold"),
        " · run ",
        (snap.run, "bold cyan"),
        f" · {_short_clock(snap.taken_at)} UTC",
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    pending = "unknown" if snap.pending is None else f"{snap.pending:,}"
    counts = Text.assemble(
        (f"ok {snap.ok:,}", "green"),
        "  ",
        (f"failed {snap.failed:,}", "red" if snap.failed else ""),
        "  ",
        (f"pending {pending}", "yellow"),
    )
    if snap.outside_range:
        counts.append(f"  (+{snap.outside_range:,} records outside the range)")
    grid.add_row("results", snap.results)
    grid.add_row("specimens", counts)
    grid.add_row("engine", ", ".join(snap.engines) or "- (no record event yet)")
    grid.add_row("rate", _rate_line(snap))
    grid.add_row("tokens", _tokens_line(snap))
    grid.add_row("cost", _cost_line(snap))
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in snap.failures_by_kind.items())
    grid.add_row("failures", Text(kinds or "none", style="red" if kinds else "green"))
    if snap.request_errors:
        retried = ", ".join(f"{k} {n:,}" for k, n in snap.request_errors.items())
        grid.add_row("request errors", f"{retried} (last {RATE_WINDOW_S / 60:.0f} min)")
    grid.add_row("gate", _gate_line(snap))
    parts: list[RenderableType] = [head, _progress(snap), grid]
    if snap.latest_failures:
        latest = Table(
            title="latest failures", title_justify="left", box=None, padding=(0, 1)
        )
        latest.add_column("time (UTC)", no_wrap=True)
        latest.add_column("specimen", no_wrap=True)
        latest.add_column("kind", style="red", no_wrap=True)
        latest.add_column("message", overflow="fold")
        for failure in snap.latest_failures:
            latest.add_row(
                _short_clock(failure.time),
                failure.specimen,
                failure.kind,
                failure.message,
            )
        parts.append(latest)
    parts.extend(Text(f"note: {note}", style="dim") for note in snap.notes)
    return Group(*parts)


def _rate_line(snap: StatusSnapshot) -> str:
    if snap.rate_per_min is None:
        if snap.last_record_at is None:
            return "no record written yet"
        return (
            f"idle: no record in the last {RATE_WINDOW_S / 60:.0f} min "
            f"(last at {_clock(snap.last_record_at)})"
        )
    text = f"{snap.rate_per_min:,.1f} specimens/min (last {RATE_WINDOW_S / 60:.0f} min)"
    if snap.pending == 0:
        return text + ", range complete"
    if snap.eta_s is not None:
        text += f", ETA {duration(snap.eta_s)} ({_clock(snap.taken_at + snap.eta_s)})"
    return text


def _cost_line(snap: StatusSnapshot) -> str:
    if not snap.cost_usd:
        return "none reported so far"
    text = f"{_money(snap.cost_usd)} so far"
    if snap.projected_cost_usd is not None and snap.pending:
        text += f", about {_money(snap.projected_cost_usd)} for the whole range"
    return text


def _tokens_line(snap: StatusSnapshot) -> str:
    if not snap.prompt_tokens and not snap.completion_tokens:
        return "none reported so far"
    text = (
        f"{snap.prompt_tokens:,} prompt + {snap.completion_tokens:,} completion so far"
    )
    if snap.projected_tokens and snap.pending:
        text += f", about {snap.projected_tokens:,} for the whole range"
    return text


def _gate_line(snap: StatusSnapshot) -> Text:
    gate = snap.gate
    if gate.mode == "open":
        return Text("open", style="green")
    if gate.mode == "cooling":
        left = (gate.until or snap.taken_at) - snap.taken_at
        return Text(
            f"cooling down for {duration(left)} more: {gate.reason}", style="yellow"
        )
    if gate.mode == "stopped":
        return Text(
            f"STOPPED: {gate.reason}; no request is sent until this is fixed",
            style="bold red",
        )
    if gate.mode == "unused":
        return Text("not used (no API run in this folder)", style="dim")
    return Text(f"unknown ({gate.reason})" if gate.reason else "unknown", style="dim")


def print_status(
    results: str | Path, run: str, console: Console | None = None
) -> StatusSnapshot:
    """Collect the status once and print it.

    :returns: the snapshot printed.
    """
    snap = StatusCollector(results, run, persist=True).collect()
    (console or Console()).print(render_status(snap))
    return snap


def watch_status(
    results: str | Path,
    run: str,
    interval: float = 2.0,
    console: Console | None = None,
    rounds: int | None = None,
) -> None:
    """Redraw the status in place every ``interval`` seconds until Ctrl-C.

    :param rounds: stop after this many refreshes (for tests); None runs on.
    """
    collector = StatusCollector(results, run, persist=True, save_every_s=60.0)
    with Live(
        render_status(collector.collect()),
        console=console,
        auto_refresh=False,
        transient=False,
    ) as live:
        done = 1
        try:
            while rounds is None or done < rounds:
                time.sleep(interval)
                live.update(render_status(collector.collect()), refresh=True)
                done += 1
        except KeyboardInterrupt:
            pass
