"""A connectivity check before the first API request on a machine.

On a cluster, API extraction may run on compute nodes that cannot reach the
provider. Without a check, every specimen job on such a node would wait for
its own timeout and fail with its own copy of a low-level network error.
:func:`check_endpoint` makes one cheap request first and turns the outcome
into one message that says what is wrong and what to do.

Any HTTP answer, even 401 or 404, proves that the server is reachable: the
check sends no API key and leaves status codes to the engine. Only a failure
to get an answer at all counts:

- :class:`~herbarium_dwc.errors.ConfigError`: the URL itself cannot work (not
  http or https, no host, a TLS handshake that fails, a proxy that wants
  credentials); no specimen can succeed until the setting changes.
- :class:`~herbarium_dwc.errors.TransientError`: the host name does not
  resolve, the connection is refused or times out; the network may come back,
  so the specimen stays pending for the next run.

Known shortcoming: the check is one request, not retried. A single network
blip on the host where Snakemake runs therefore stops the run (the engine
asks Snakemake to start no more jobs, see herbarium_dwc.scheduler) and fails
that host's jobs for the few minutes the outcome stands; nothing is lost and
the next run checks again, but an unattended overnight run ends early.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from herbarium_dwc.errors import ConfigError, TransientError
from herbarium_dwc.record import locked_file, write_json_atomic

logger = logging.getLogger(__name__)

# What to do when the endpoint cannot be reached from a cluster node.
_CLUSTER_HINT = (
    "if this runs on a cluster node without internet access, set "
    "api_on_cluster: false so that extraction runs on the submitting host"
)


@dataclass(frozen=True)
class EndpointStatus:
    """The answer of a reachable endpoint.

    :param url: the URL that was requested.
    :param status_code: the HTTP status it answered with.
    :param latency_s: seconds from request to response headers.
    """

    url: str
    status_code: int
    latency_s: float


def probe_url(base_url: str) -> str:
    """Return the URL the check requests: ``<base_url>/models``.

    Every OpenAI-compatible server (OpenAI, OpenRouter, vLLM, Ollama) lists
    its models there; it is small and costs nothing.

    :raises ConfigError: ``base_url`` is not an http(s) URL with a host.

    >>> probe_url("https://openrouter.ai/api/v1/")
    'https://openrouter.ai/api/v1/models'
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url {base_url!r} is not an http:// or https:// URL with a "
            "host; set it to the provider's API root, e.g. "
            "https://openrouter.ai/api/v1"
        )
    return base_url.strip().rstrip("/") + "/models"


def _describe(exc: httpx.TransportError) -> str:
    """The innermost cause of a transport error, for the message."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    return str(cause) or type(cause).__name__


def _is_tls_failure(exc: httpx.TransportError) -> bool:
    text = _describe(exc).lower()
    return any(word in text for word in ("ssl", "certificate", "tls"))


def _is_name_failure(exc: httpx.TransportError) -> bool:
    text = _describe(exc).lower()
    return any(
        word in text
        for word in (
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "name resolution",
            "no address associated",
            "getaddrinfo",
        )
    )


def check_endpoint(
    base_url: str,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> EndpointStatus:
    """Check that an OpenAI-compatible endpoint answers from this machine.

    Sends one unauthenticated ``GET <base_url>/models`` and returns as soon as
    any HTTP answer arrives. Proxies set in the environment (``HTTPS_PROXY``)
    are used, as the engine will use them.

    :param base_url: the provider's API root, e.g. ``http://127.0.0.1:8000/v1``.
    :param timeout: seconds allowed for connecting and for the answer.
    :param transport: an httpx transport to use instead of the network (tests).
    :raises ConfigError: the URL cannot work as configured (scheme, TLS, proxy
        authentication); the message names the URL and the setting to change.
    :raises TransientError: the host does not resolve, refuses the connection
        or does not answer in time; the message names the host and the cause.

    >>> check_endpoint("http://127.0.0.1:8000/v1", timeout=5)  # doctest: +SKIP
    EndpointStatus(url='http://127.0.0.1:8000/v1/models', status_code=200, ...)
    """
    url = probe_url(base_url)
    host = urlsplit(url).netloc
    started = time.perf_counter()
    try:
        with httpx.Client(
            timeout=timeout, transport=transport, follow_redirects=False
        ) as client:
            response = client.get(url)
    except httpx.TimeoutException as exc:
        raise TransientError(
            f"API endpoint {url} did not answer within {timeout:g} s "
            f"({type(exc).__name__}); check that {host} is up and reachable "
            f"from this machine, or raise the timeout; {_CLUSTER_HINT}"
        ) from exc
    except httpx.ProxyError as exc:
        raise ConfigError(
            f"the proxy for API endpoint {url} refused the request: "
            f"{_describe(exc)}; check HTTPS_PROXY/HTTP_PROXY and their credentials"
        ) from exc
    except httpx.UnsupportedProtocol as exc:
        raise ConfigError(
            f"base_url {base_url!r} uses a protocol httpx cannot speak "
            f"({_describe(exc)}); use an http:// or https:// URL"
        ) from exc
    except httpx.TransportError as exc:
        if _is_tls_failure(exc):
            raise ConfigError(
                f"TLS with API endpoint {url} failed: {_describe(exc)}; check "
                "that base_url's scheme matches the server (http or https) and "
                "that this machine trusts its certificate (SSL_CERT_FILE)"
            ) from exc
        if _is_name_failure(exc):
            raise TransientError(
                f"the host name of API endpoint {url} does not resolve from "
                f"this machine ({_describe(exc)}); check base_url for typos; "
                f"{_CLUSTER_HINT}"
            ) from exc
        raise TransientError(
            f"cannot connect to API endpoint {url}: {_describe(exc)}; check "
            f"that the server at {host} is running; {_CLUSTER_HINT}"
        ) from exc
    latency = round(time.perf_counter() - started, 3)
    if response.status_code == httpx.codes.PROXY_AUTHENTICATION_REQUIRED:
        raise ConfigError(
            f"the proxy in front of API endpoint {url} wants credentials (407); "
            "put them in HTTPS_PROXY, e.g. http://user:password@proxy:3128"
        )
    logger.info(
        "API endpoint %s reachable: HTTP %d in %.3f s",
        url,
        response.status_code,
        latency,
    )
    return EndpointStatus(url=url, status_code=response.status_code, latency_s=latency)


def connectivity_dir(results_dir: str | Path) -> Path:
    """Return the folder of remembered check outcomes under a results folder.

    >>> connectivity_dir("results").as_posix()
    'results/work/connectivity'
    """
    return Path(results_dir) / "work" / "connectivity"


def check_endpoint_once(
    base_url: str,
    state_dir: str | Path,
    timeout: float = 10.0,
    max_age_s: float = 300.0,
    transport: httpx.BaseTransport | None = None,
) -> EndpointStatus | None:
    """Check the endpoint once per machine, and remember the outcome a while.

    Many specimen jobs start on one node; the first runs :func:`check_endpoint`
    and writes the outcome to ``state_dir`` under a name made of this host's
    name and the URL. Jobs that start while it checks wait for it (a file lock
    per host and URL), and jobs that start within ``max_age_s`` reuse the
    outcome: after a success they skip the check, after a failure they fail at
    once with the very same message instead of each waiting for its own
    timeout.

    :param base_url: the provider's API root.
    :param state_dir: a folder for the outcomes (may be on a shared file
        system: each host has its own file).
    :param timeout: seconds allowed for the check itself.
    :param max_age_s: how long an outcome stands before the next job checks
        again (0 checks every time).
    :param transport: an httpx transport to use instead of the network (tests).
    :returns: the status when this call checked, None when a recent success
        made the check unnecessary.
    :raises ConfigError: as :func:`check_endpoint`, now or recently.
    :raises TransientError: as :func:`check_endpoint`, now or recently.

    >>> check_endpoint_once(url, "results/work/connectivity")  # doctest: +SKIP
    """
    url = probe_url(base_url)
    host = socket.gethostname()
    key = hashlib.sha256(f"{host} {url}".encode()).hexdigest()[:16]
    path = Path(state_dir) / f"{key}.json"
    # Jobs of one host that start together wait here for the first one's
    # check rather than each sending (and timing out) their own.
    with locked_file(path.with_suffix(".lock")):
        return _check_locked(base_url, url, host, path, timeout, max_age_s, transport)


def _check_locked(
    base_url: str,
    url: str,
    host: str,
    path: Path,
    timeout: float,
    max_age_s: float,
    transport: httpx.BaseTransport | None,
) -> EndpointStatus | None:
    previous = _read_outcome(path)
    checked_at = previous.get("checked_at")
    age = time.time() - checked_at if isinstance(checked_at, float) else -1.0
    if 0 <= age < max_age_s:
        if previous.get("ok") is True:
            return None
        raise _remembered_error(previous)
    logger.info("checking API endpoint %s from %s", url, host)
    outcome: dict[str, object] = {"host": host, "url": url}
    try:
        status = check_endpoint(base_url, timeout=timeout, transport=transport)
    except (ConfigError, TransientError) as exc:
        kind = "config" if isinstance(exc, ConfigError) else "transient"
        outcome.update(ok=False, kind=kind, message=str(exc), checked_at=time.time())
        write_json_atomic(path, outcome)
        # The job that checked raises the same text as the jobs that reuse
        # the outcome, so a run shows one message, not variants of it.
        raise _remembered_error(outcome) from exc
    outcome.update(ok=True, status_code=status.status_code, checked_at=time.time())
    write_json_atomic(path, outcome)
    return status


def _remembered_error(outcome: dict[str, object]) -> ConfigError | TransientError:
    """The error a failed outcome stands for, with when and where it was seen."""
    checked_at = outcome.get("checked_at")
    when = (
        datetime.fromtimestamp(checked_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if isinstance(checked_at, float)
        else "an unknown time"
    )
    error = ConfigError if outcome.get("kind") == "config" else TransientError
    return error(
        f"{outcome.get('message')} (checked on {outcome.get('host')} at {when})"
    )


def forget_checks(state_dir: str | Path) -> int:
    """Delete the remembered outcomes, so the next job on each host checks again.

    The workflow calls this when a run starts: a user who fixed the network
    or started the server must not meet the last run's failure.

    :param state_dir: the folder :func:`check_endpoint_once` writes to.
    :returns: how many outcomes were deleted.

    >>> forget_checks("results/work/connectivity")  # doctest: +SKIP
    0
    """
    removed = 0
    for path in Path(state_dir).glob("*.json"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def describe_failed_checks(state_dir: str | Path) -> str | None:
    """Return one message naming each host and URL that could not be reached.

    After a failed run the workflow prints this once, instead of leaving the
    user to find the reason in each failed job's log. Only transient failures
    are listed: a check that found the URL unusable (ConfigError) closes the
    rate gate, whose own message reports it.

    :param state_dir: the folder :func:`check_endpoint_once` writes to.

    >>> describe_failed_checks("results/work/connectivity")  # doctest: +SKIP
    """
    lines = []
    for path in sorted(Path(state_dir).glob("*.json")):
        outcome = _read_outcome(path)
        if outcome.get("ok") is False and outcome.get("kind") == "transient":
            lines.append(f"  {_remembered_error(outcome)}")
    if not lines:
        return None
    return (
        "herbarium-dwc: the API endpoint could not be reached, so no request was "
        "sent from these hosts:\n"
        + "\n".join(lines)
        + "\nSpecimens without a record stay pending; run the same command again "
        "once that is fixed."
    )


def _read_outcome(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
