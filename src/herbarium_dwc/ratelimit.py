"""The shared rate gate: every extraction process asks it before each request.

One gate serves all processes of a run (and runs on other machines that use
the same store). It holds:

- a request-rate bucket (GCRA: each request reserves the next free moment,
  ``60 / rpm`` seconds after the previous one), slowed down for a while after
  the provider answers 429, so a too-high ``rpm`` setting costs few 429s;
- a cool-down that a 429 with Retry-After sets for everyone;
- a stop switch that quota, credit, authentication, budget and model errors
  close, so that no process sends another request;
- per-key state (a key that hits its quota is benched; the others go on);
- the money spent per run, for ``budget_usd``;
- the in-flight requests, capped at ``concurrency`` across processes;
- small memos, such as the ``response_format`` a provider accepted.

The algorithms live in :class:`RateGate`; the state lives behind the small
:class:`GateStore` interface (named string values, read and changed in one
atomic step). :class:`SQLiteGateStore` is the default, a file under
results/, for processes on one machine. :class:`RedisGateStore` shares one
gate between machines (API extraction as cluster jobs on several nodes):
``openai.gate: redis://host:port/db``.

We wrote our own instead of using pyrate-limiter's SQLite bucket: the bucket
is one of six pieces of state that must change together (a 429 sets the
cool-down and slows the rate in one step), pyrate-limiter has no cool-down,
stop switch, key bench or budget, and the GCRA here is a few lines.

The stop switch and key benches that last "until the next run" are cleared
by :func:`reopen_gate`, which the workflow calls once when it starts.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from herbarium_dwc.errors import (
    ConfigError,
    GateClosedError,
    HerbariumError,
    TransientError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
Values = dict[str, str | None]

# After a 429 the rate drops to this share of what it was; several 429s
# within SLOW_HOLD_S count once, since they answer requests sent together.
SLOW_FACTOR = 0.7
SLOW_FLOOR = 0.05
SLOW_HOLD_S = 2.0
# The rate climbs back to the configured rpm at this share per second
# (0.004 recovers from half speed in about two minutes), so a provider that
# throttled us briefly does not slow the whole run.
RECOVER_PER_S = 0.004

GATE_FILE = "gate.sqlite"
# Where the workflow notes which store a results folder's gate lives in, so
# that `herbarium-dwc status` and `herbarium-dwc gate` find it without the config.
GATE_NOTE = "work/gate.json"
REDIS_PASSWORD_ENV = "HERBARIUM_REDIS_PASSWORD"
REDIS_SCHEMES = ("redis://", "rediss://")


class GateStore(Protocol):
    """Named string values that many processes read and change atomically."""

    def read(self, names: Sequence[str]) -> Values:
        """Return the current values of ``names`` (None when unset)."""
        ...

    def atomic(
        self, names: Sequence[str], change: Callable[[Values], tuple[Values, T]]
    ) -> T:
        """Read ``names``, apply ``change``, write what it returns, atomically.

        ``change`` gets the current values and returns the values to write
        (None deletes a name) and a result, which ``atomic`` returns. No other
        process changes these names in between.
        """
        ...


class SQLiteGateStore:
    """A :class:`GateStore` in one SQLite file, safe for many processes.

    :param path: the database file; its folder is created if missing. Keep it
        on a local disk: SQLite's locking is unreliable on NFS.
    :param timeout_s: how long a process waits for another's transaction.

    >>> store = SQLiteGateStore("results/gate.sqlite")
    """

    def __init__(
        self, path: str | Path, timeout_s: float = 60.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._timeout_s = timeout_s
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self.read_only:
            # Readers (status) never create, convert or wait long on the file.
            try:
                conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=self._timeout_s,
                )
            except sqlite3.Error as exc:
                raise self._unusable(exc) from exc
            self._local.conn = conn
            return conn
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=self._timeout_s, isolation_level=None
                )
                # Switching to WAL takes a lock that SQLite does not wait for,
                # so processes that open a new store together retry here.
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS gate "
                    "(name TEXT PRIMARY KEY, value TEXT)"
                )
                break
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise self._unusable(exc) from exc
                time.sleep(0.02 + random.random() * 0.1)
            except sqlite3.Error as exc:
                raise self._unusable(exc) from exc
        self._local.conn = conn
        return conn

    def _unusable(self, exc: Exception) -> ConfigError:
        return ConfigError(
            f"{self.path}: cannot open the rate gate store ({exc}); check that "
            "the results folder is writable and on a local disk, or set "
            "openai.gate to another file"
        )

    def read(self, names: Sequence[str]) -> Values:
        """Return the current values of ``names`` (None when unset)."""
        conn = self._connect()
        marks = ",".join("?" * len(names))
        try:
            rows = conn.execute(
                f"SELECT name, value FROM gate WHERE name IN ({marks})", list(names)
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            if not self.read_only:
                raise
            raise self._unusable(exc) from exc
        found = dict(rows)
        return {name: found.get(name) for name in names}

    def atomic(
        self, names: Sequence[str], change: Callable[[Values], tuple[Values, T]]
    ) -> T:
        """Read, change and write ``names`` inside one ``BEGIN IMMEDIATE``."""
        if self.read_only:
            raise ConfigError(f"{self.path}: the rate gate was opened read-only")
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransientError(
                f"{self.path}: the rate gate store stayed locked for "
                f"{self._timeout_s:.0f} s ({exc}); run again, and keep the results "
                "folder on a local disk"
            ) from exc
        try:
            marks = ",".join("?" * len(names))
            rows = conn.execute(
                f"SELECT name, value FROM gate WHERE name IN ({marks})", list(names)
            ).fetchall()
            found = dict(rows)
            updates, result = change({name: found.get(name) for name in names})
            for name, value in updates.items():
                if value is None:
                    conn.execute("DELETE FROM gate WHERE name = ?", (name,))
                else:
                    conn.execute(
                        "INSERT INTO gate (name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                        (name, value),
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result


def redact_url(url: str) -> str:
    """Return ``url`` without user, password, query or fragment.

    The user part ends at the last ``@`` (a password may hold ``/``, ``?`` or
    ``#``); a query may carry a password too, so it goes as well.

    >>> redact_url("redis://:se/cr#et@gate.example:6379/0?password=x")
    'redis://gate.example:6379/0'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<not a URL>"
    rest = rest.rpartition("@")[2]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{rest}"


def _as_values(names: Sequence[str], found: Sequence[bytes | str | None]) -> Values:
    return {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in zip(names, found, strict=True)
    }


class RedisGateStore:
    """A :class:`GateStore` in one Redis hash, shared by processes on many machines.

    Each :meth:`atomic` call watches the hash, reads, and writes its changes
    in one ``MULTI``/``EXEC``; when another process changed the hash in
    between, it reads again and retries. Every name is a field of the hash
    ``key``, so two workflows that should not share a gate use two keys
    (``openai.gate_name``).

    :param url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://``.
        A password may come from the environment variable
        ``HERBARIUM_REDIS_PASSWORD`` instead, which keeps it out of the config.
    :param key: the Redis key of the hash that holds this gate.
    :param timeout_s: how long one Redis command may take.
    :raises ConfigError: the ``redis`` package is not installed, the URL is not
        a Redis URL, or the server refuses the password.
    :raises TransientError: the server cannot be reached now.

    >>> store = RedisGateStore("redis://127.0.0.1:6379/0", "herbarium-dwc:gate:demo")
    """

    def __init__(self, url: str, key: str, timeout_s: float = 10.0) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                f"openai.gate is a Redis URL ({redact_url(url)}) but the redis "
                "package is not installed; install herbarium-dwc[slurm] (or "
                "pip install redis), or leave openai.gate empty for the SQLite store"
            ) from exc
        self._redis = redis
        self.url = redact_url(url)
        self.key = key
        self._timeout_s = timeout_s
        password = os.environ.get(REDIS_PASSWORD_ENV) or None
        try:
            self._client = redis.Redis.from_url(
                url,
                password=password,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                decode_responses=True,
            )
        except ValueError as exc:
            raise ConfigError(
                f"openai.gate: {self.url} is not a Redis URL this client can use "
                f"({exc}); write it as redis://host:port/db"
            ) from exc
        self._call(self._client.ping)

    def _call(self, action: Callable[[], T]) -> T:
        errors = self._redis.exceptions
        try:
            return action()
        except errors.AuthenticationError as exc:
            raise ConfigError(
                f"the rate gate's Redis at {self.url} refused the password ({exc}); "
                f"set {REDIS_PASSWORD_ENV} to the right one"
            ) from exc
        except (errors.ConnectionError, errors.TimeoutError) as exc:
            raise TransientError(
                f"cannot reach the rate gate's Redis at {self.url} ({exc}); start "
                "redis-server there or fix openai.gate, then run again"
            ) from exc
        except errors.ResponseError as exc:
            raise ConfigError(
                f"the rate gate's Redis at {self.url} refused a command ({exc}); "
                "check that it is a plain Redis server the user may write to"
            ) from exc
        except errors.RedisError as exc:
            # Anything else (a reply that is not Redis's, a wrong port): the
            # specimen stays pending and the message says where to look.
            raise TransientError(
                f"the rate gate's Redis at {self.url} failed ({exc}); check that "
                "openai.gate names a Redis server, then run again"
            ) from exc

    def read(self, names: Sequence[str]) -> Values:
        """Return the current values of ``names`` (None when unset)."""
        found = self._call(lambda: self._client.hmget(self.key, list(names)))
        return _as_values(names, found)

    def atomic(
        self, names: Sequence[str], change: Callable[[Values], tuple[Values, T]]
    ) -> T:
        """Read, change and write ``names`` in one watched transaction."""

        def attempt() -> T:
            with self._client.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(self.key)  # type: ignore[no-untyped-call]
                        current = _as_values(names, pipe.hmget(self.key, list(names)))
                        updates, result = change(current)
                        pipe.multi()
                        written: dict[Any, Any] = {
                            k: v for k, v in updates.items() if v is not None
                        }
                        removed = [k for k, v in updates.items() if v is None]
                        if written:
                            pipe.hset(self.key, mapping=written)
                        if removed:
                            pipe.hdel(self.key, *removed)
                        pipe.execute()
                        return result
                    except self._redis.exceptions.WatchError as exc:
                        # redis-py also reports a connection lost while
                        # watching as a WatchError; the change may then have
                        # been applied, so it is not tried again here.
                        if "occurred while watching" in str(exc):
                            raise self._redis.exceptions.ConnectionError(
                                str(exc)
                            ) from exc
                        # Another process changed the gate first: read again,
                        # for at most as long as one command may take.
                        if time.monotonic() > deadline:
                            raise TransientError(
                                f"the rate gate's Redis at {self.url} stayed busy "
                                f"for {self._timeout_s:.0f} s; run again"
                            ) from exc
                        time.sleep(random.random() * 0.005)

        deadline = time.monotonic() + self._timeout_s
        return self._call(attempt)


@dataclass(frozen=True)
class GateSettings:
    """How the gate paces requests.

    :param rpm: requests per minute for all processes together; None or 0
        sends as fast as ``concurrency`` allows (a local server).
    :param concurrency: requests in flight at once, across processes.
    :param budget_usd: the most a run may spend; None for no limit.
    :param max_wait_s: the longest cool-down a process waits out; a longer
        one (a provider asking for an hour's pause) stops the job instead.
    :param stale_s: an in-flight entry older than this is dropped (its
        process died on another machine without saying so).
    """

    rpm: float | None = None
    concurrency: int = 4
    budget_usd: float | None = None
    max_wait_s: float = 900.0
    stale_s: float = 900.0


@dataclass(frozen=True)
class GateState:
    """A snapshot of the gate, for messages and reports."""

    cool_until: float
    cool_reason: str
    stop_kind: str | None
    stop_reason: str | None
    rate_factor: float


def _float(value: str | None, default: float) -> float:
    return float(value) if value is not None else default


def _json(value: str | None) -> Any:
    return json.loads(value) if value else {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_RATE = ("rate.tat", "rate.factor", "rate.factor_at", "cool.until")
_STATE = ("cool.until", "cool.reason", "stop.kind", "stop.reason")
_FACTOR = ("rate.factor", "rate.factor_at")


def _factor(values: Values, now: float) -> float:
    base = _float(values.get("rate.factor"), 1.0)
    since = now - _float(values.get("rate.factor_at"), now)
    return min(1.0, base + max(0.0, since) * RECOVER_PER_S)


class RateGate:
    """The shared gate every request passes (see the module docstring).

    :param store: where the shared state lives.
    :param settings: rate, concurrency and budget.
    :param clock: seconds since the epoch (shared between machines).
    :param sleep: how to wait; tests may pass a fake.

    >>> gate = RateGate(SQLiteGateStore("results/gate.sqlite"), GateSettings(rpm=60))
    >>> with gate.request():
    ...     pass  # send one request here
    """

    def __init__(
        self,
        store: GateStore,
        settings: GateSettings,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self._host = socket.gethostname()

    # -- reading -----------------------------------------------------------

    def state(self) -> GateState:
        """Return the gate's current cool-down, stop switch and rate factor."""
        values = self.store.read([*_STATE, *_FACTOR])
        return GateState(
            cool_until=_float(values["cool.until"], 0.0),
            cool_reason=values["cool.reason"] or "",
            stop_kind=values["stop.kind"],
            stop_reason=values["stop.reason"],
            rate_factor=_factor(values, self.clock()),
        )

    def check_open(self, run: str | None = None) -> None:
        """Raise when no request may be sent: stop switch set or budget spent.

        :raises GateClosedError: with the reason the gate closed.
        """
        state = self.state()
        if state.stop_kind:
            raise GateClosedError(
                state.stop_reason or "the rate gate is closed", state.stop_kind
            )
        budget = self.settings.budget_usd
        if budget is not None and run is not None:
            spent = self.spent(run)
            if spent >= budget:
                reason = (
                    f"run {run} has spent ${spent:.4f} of its budget_usd "
                    f"${budget:.4f}; raise openai.budget_usd to go on"
                )
                self.close("budget", reason)
                raise GateClosedError(reason, "budget")

    # -- taking a turn -----------------------------------------------------

    @contextmanager
    def request(self, run: str | None = None) -> Iterator[float]:
        """Wait for an in-flight slot and a turn in the rate, then yield.

        Yields the seconds spent waiting. The slot is given back when the
        block ends, however it ends.

        :raises GateClosedError: the stop switch is set (before or while waiting).
        :raises TransientError: a cool-down longer than ``max_wait_s`` is set.
        """
        started = self.clock()
        holder = self._enter(run)
        try:
            self._wait_turn(run)
            yield self.clock() - started
        finally:
            self._leave(holder)

    def _enter(self, run: str | None) -> str:
        holder = f"{self._host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        record = {"host": self._host, "pid": os.getpid(), "since": 0.0}
        limit = max(1, self.settings.concurrency)
        polls = 0
        while True:
            self.check_open(run)
            now = self.clock()
            record["since"] = now

            def enter(values: Values, now: float = now) -> tuple[Values, bool]:
                held: dict[str, dict[str, Any]] = _json(values["inflight"])
                for name, entry in list(held.items()):
                    mine = entry.get("host") == self._host
                    if (mine and not _pid_alive(int(entry["pid"]))) or (
                        now - float(entry["since"]) > self.settings.stale_s
                    ):
                        del held[name]
                if len(held) >= limit:
                    return {"inflight": json.dumps(held)}, False
                held[holder] = record
                return {"inflight": json.dumps(held)}, True

            if self.store.atomic(["inflight"], enter):
                return holder
            polls += 1
            if polls % 50 == 1:
                logger.info("waiting for one of %d in-flight slots", limit)
            self.sleep(0.05 + random.random() * 0.1)

    def _leave(self, holder: str) -> None:
        def leave(values: Values) -> tuple[Values, None]:
            held = _json(values["inflight"])
            held.pop(holder, None)
            return {"inflight": json.dumps(held)}, None

        self.store.atomic(["inflight"], leave)

    def _wait_turn(self, run: str | None) -> None:
        rpm = self.settings.rpm
        while True:
            self.check_open(run)
            now = self.clock()
            state = self.state()
            if state.cool_until > now:
                self._wait_cool_down(state, now)
                continue
            if not rpm:
                return

            def reserve(values: Values, now: float = now) -> tuple[Values, float]:
                interval = 60.0 / (rpm * _factor(values, now))
                tat = _float(values["rate.tat"], 0.0)
                start = max(now, tat, _float(values["cool.until"], 0.0))
                return {"rate.tat": repr(start + interval)}, start

            send_at = self.store.atomic(list(_RATE), reserve)
            if send_at > now:
                self.sleep(send_at - now)
            # A 429 may have set a cool-down while we slept; our turn is void.
            if self.state().cool_until <= self.clock():
                return

    def _wait_cool_down(self, state: GateState, now: float) -> None:
        wait = state.cool_until - now
        if wait > self.settings.max_wait_s:
            raise TransientError(
                f"the provider asked all requests to pause for {wait:.0f} s "
                f"({state.cool_reason}); run the workflow again after that"
            )
        logger.info("cool-down for %.1f s: %s", wait, state.cool_reason)
        self.sleep(wait)

    # -- what replies tell the gate ---------------------------------------

    def rate_limited(self, retry_after_s: float | None, reason: str) -> float:
        """Note a 429: pause everyone until Retry-After and slow the rate.

        :param retry_after_s: what the provider asked for; None picks 5 s.
        :param reason: a short text for logs and messages.
        :returns: the seconds every process now waits.
        """
        now = self.clock()
        pause = 5.0 if retry_after_s is None else max(0.0, retry_after_s)

        def note(values: Values) -> tuple[Values, float]:
            updates: Values = {}
            until = max(_float(values["cool.until"], 0.0), now + pause)
            if until > _float(values["cool.until"], 0.0):
                updates["cool.until"] = repr(until)
                updates["cool.reason"] = reason
            last = _float(values["rate.factor_at"], 0.0)
            if now - last > SLOW_HOLD_S:
                factor = max(SLOW_FLOOR, _factor(values, now) * SLOW_FACTOR)
                updates["rate.factor"] = repr(factor)
                updates["rate.factor_at"] = repr(now)
            return updates, until - now

        waited = self.store.atomic(
            ["cool.until", "cool.reason", "rate.factor", "rate.factor_at"], note
        )
        logger.warning("rate limited (%s); all processes pause %.1f s", reason, waited)
        return waited

    def close(self, kind: str, reason: str) -> None:
        """Set the stop switch; the first reason stays (later ones are echoes).

        :param kind: quota, credits, auth, budget or config.
        :param reason: the message every stopped process reports.
        """

        def shut(values: Values) -> tuple[Values, bool]:
            if values["stop.kind"]:
                return {}, False
            return {"stop.kind": kind, "stop.reason": reason}, True

        if self.store.atomic(["stop.kind", "stop.reason"], shut):
            logger.error("rate gate closed (%s): %s", kind, reason)

    def bench_key(
        self, name: str, until: float | None, reason: str, kind: str = "quota"
    ) -> None:
        """Stop using the key held in environment variable ``name``.

        :param until: when it may be used again; None means until the next run.
        :param reason: what the provider said, for the closing message.
        :param kind: quota, credits or auth.
        """

        def bench(values: Values) -> tuple[Values, None]:
            keys = _json(values["keys"])
            keys[name] = {"until": until, "reason": reason, "kind": kind}
            return {"keys": json.dumps(keys)}, None

        self.store.atomic(["keys"], bench)
        logger.warning("key %s benched (%s): %s", name, kind, reason)

    def benched_keys(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Return the bench entries (until, reason, kind) of ``names`` in force."""
        keys = _json(self.store.read(["keys"])["keys"])
        now = self.clock()
        return {
            name: keys[name]
            for name in names
            if name in keys
            and (keys[name]["until"] is None or keys[name]["until"] > now)
        }

    def usable_keys(self, names: Sequence[str]) -> list[str]:
        """Return the key names (in order) that are not benched now."""
        benched = self.benched_keys(names)
        return [name for name in names if name not in benched]

    def add_spend(self, run: str, usd: float) -> float:
        """Add ``usd`` to the money run ``run`` spent; return the new total.

        Closes the gate (kind budget) when the total reaches ``budget_usd``.
        """

        def add(values: Values) -> tuple[Values, float]:
            spend = _json(values["spend"])
            spend[run] = float(spend.get(run, 0.0)) + usd
            return {"spend": json.dumps(spend)}, spend[run]

        total = self.store.atomic(["spend"], add)
        budget = self.settings.budget_usd
        if budget is not None and total >= budget:
            self.close(
                "budget",
                f"run {run} has spent ${total:.4f} of its budget_usd ${budget:.4f}; "
                "raise openai.budget_usd to go on",
            )
        return total

    def spent(self, run: str) -> float:
        """Return what run ``run`` has spent so far, in USD."""
        return float(_json(self.store.read(["spend"])["spend"]).get(run, 0.0))

    def report(self) -> dict[str, Any]:
        """Return the whole gate state as plain data (for the CLI)."""
        values = self.store.read(
            [*_STATE, *_FACTOR, "rate.tat", "keys", "spend", "memo", "inflight"]
        )
        state = self.state()
        return {
            "stop": {"kind": state.stop_kind, "reason": state.stop_reason},
            "cool_down_s": round(max(0.0, state.cool_until - self.clock()), 1),
            "cool_reason": state.cool_reason,
            "rate_factor": round(state.rate_factor, 3),
            "keys": _json(values["keys"]),
            "spend_usd": _json(values["spend"]),
            "memo": _json(values["memo"]),
            "in_flight": len(_json(values["inflight"])),
        }

    def remember(self, name: str, value: str) -> None:
        """Keep a small fact for the rest of the run (e.g. a response format)."""

        def put(values: Values) -> tuple[Values, None]:
            memo = _json(values["memo"])
            memo[name] = value
            return {"memo": json.dumps(memo)}, None

        self.store.atomic(["memo"], put)

    def recall(self, name: str) -> str | None:
        """Return a fact kept with :meth:`remember` in this run, or None."""
        value = _json(self.store.read(["memo"])["memo"]).get(name)
        return None if value is None else str(value)

    def reopen(self, all_keys: bool = False) -> None:
        """Start a new run: clear the stop switch, run-long key benches, memos.

        Timed benches (a daily quota with a known reset) and the cool-down
        stay, unless ``all_keys`` (the user knows the quota was raised); the
        spend per run stays, so a budget holds across restarts.
        """

        def clear(values: Values) -> tuple[Values, None]:
            keys = {
                name: bench
                for name, bench in _json(values["keys"]).items()
                if bench.get("until") is not None and not all_keys
            }
            return {
                "stop.kind": None,
                "stop.reason": None,
                "memo": None,
                "keys": json.dumps(keys),
            }, None

        self.store.atomic(["stop.kind", "stop.reason", "memo", "keys"], clear)


@dataclass(frozen=True)
class GateLocation:
    """Where a run's gate lives: a SQLite file or a hash in a Redis server.

    :param store: the SQLite file's path, or the Redis URL (may hold a password).
    :param name: the Redis key of the gate (unused for SQLite).
    """

    store: str = field(repr=False)
    name: str = ""

    @property
    def is_redis(self) -> bool:
        """True when the gate lives in Redis."""
        return self.store.startswith(REDIS_SCHEMES)

    def describe(self) -> str:
        """Say where the gate is, without any password."""
        if self.is_redis:
            return f"{redact_url(self.store)} key {self.name}"
        return self.store

    def open(
        self, timeout_s: float | None = None, read_only: bool = False
    ) -> GateStore:
        """Open the store (read-only only applies to SQLite).

        :raises ConfigError: the store cannot be used as configured.
        :raises TransientError: a Redis server cannot be reached now.
        """
        if self.is_redis:
            return RedisGateStore(self.store, self.name, timeout_s or 10.0)
        return SQLiteGateStore(self.store, timeout_s or 60.0, read_only=read_only)

    def exists(self) -> bool:
        """False for a SQLite file that no run has made yet (Redis: True)."""
        return self.is_redis or Path(self.store).is_file()


def gate_location(config: dict[str, Any], from_note: bool = True) -> GateLocation:
    """Return where the workflow config puts the rate gate.

    ``openai.gate`` is a file (empty: ``<results>/gate.sqlite``) or a Redis
    URL; with Redis, ``openai.gate_name`` names the gate, by default after the
    absolute results folder, so each results folder keeps its own gate as it
    does with SQLite. With ``from_note``, a default name the run's main
    process noted (:func:`note_gate_location`) wins over this process's own
    idea of the absolute path (a node may mount the folder elsewhere).

    >>> gate_location({"results": "results"}).store
    'results/gate.sqlite'
    """
    openai = config.get("openai") or {}
    setting = str(openai.get("gate") or "")
    results = str(config.get("results", "results")).rstrip("/") or "."
    if setting.startswith(REDIS_SCHEMES):
        name = str(openai.get("gate_name") or "")
        if not name:
            # A job on a node that mounts the results folder under another
            # path must still find the gate its run started: take the name
            # the main process noted, when there is one.
            noted = noted_gate_location(results) if from_note else None
            if noted is not None and noted.is_redis:
                return GateLocation(setting, noted.name)
            name = str(Path(results).resolve())
        return GateLocation(setting, redis_gate_key(name))
    return GateLocation(setting or str(Path(results) / GATE_FILE))


def redis_gate_key(name: str) -> str:
    """Return the Redis key of the gate called ``name``.

    >>> redis_gate_key("herbarium-2026")
    'herbarium-dwc:gate:herbarium-2026'
    """
    return f"herbarium-dwc:gate:{name}"


def note_gate_location(config: dict[str, Any]) -> Path:
    """Write where the gate lives to ``<results>/work/gate.json`` (no password).

    ``herbarium-dwc status`` and ``herbarium-dwc gate`` read it, as they get
    only the results folder. A Redis password stays out: they take it from
    ``HERBARIUM_REDIS_PASSWORD`` like the workflow does.
    """
    # Imported here: record imports pydantic, which `herbarium-dwc status`
    # (a reader of this module) should not pay for.
    from herbarium_dwc.record import write_json_atomic

    location = gate_location(config, from_note=False)
    store = redact_url(location.store) if location.is_redis else location.store
    if not location.is_redis:
        store = str(Path(store).resolve())
    path = Path(str(config.get("results", "results"))) / GATE_NOTE
    write_json_atomic(path, {"store": store, "name": location.name})
    return path


def noted_gate_location(results: str | Path) -> GateLocation | None:
    """Return the gate a results folder's runs used, or None if no API run did.

    Reads ``<results>/work/gate.json``; without it, a ``gate.sqlite`` in the
    folder is taken (runs from before the note existed).
    """
    folder = Path(results)
    try:
        data = json.loads((folder / GATE_NOTE).read_text(encoding="utf-8"))
        return GateLocation(str(data["store"]), str(data.get("name") or ""))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if (folder / GATE_FILE).is_file():
        return GateLocation(str(folder / GATE_FILE))
    return None


def open_gate(config: dict[str, Any], settings: GateSettings) -> RateGate:
    """Open the gate store the config names and return its :class:`RateGate`.

    :raises ConfigError: the store cannot be opened.
    :raises TransientError: its Redis server cannot be reached now.
    """
    return RateGate(gate_location(config).open(), settings)


def reopen_gate(config: dict[str, Any]) -> None:
    """Clear the stop switch and run-long benches when a workflow run starts.

    Also notes where the gate lives for ``herbarium-dwc status``.
    """
    note_gate_location(config)
    open_gate(config, GateSettings()).reopen()


def describe_closed_gate(config: dict[str, Any]) -> str | None:
    """Return one message saying why the gate is closed, or None if open."""
    location = gate_location(config)
    if not location.exists():
        return None
    try:
        state = open_gate(config, GateSettings()).state()
    except HerbariumError as exc:
        return f"herbarium-dwc: cannot read the rate gate: {exc}"
    if not state.stop_kind:
        return None
    return (
        f"herbarium-dwc: API requests stopped ({state.stop_kind}): "
        f"{state.stop_reason}\nSpecimens without a record stay pending; run the "
        "same command again once that is fixed (finished ones are not sent again)."
    )
