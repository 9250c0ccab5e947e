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
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from herbarium_dwc.errors import ConfigError, TransientError
from herbarium_dwc.record import write_json_atomic

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
    name and the URL. Jobs that start within ``max_age_s`` reuse it: after a
    success they skip the check, after a failure they fail at once with the
    same message instead of each waiting for its own timeout.

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
    previous = _read_outcome(path)
    checked_at = previous.get("checked_at")
    age = time.time() - checked_at if isinstance(checked_at, float) else -1.0
    if 0 <= age < max_age_s:
        if previous.get("ok") is True:
            return None
        error = ConfigError if previous.get("kind") == "config" else TransientError
        raise error(f"{previous.get('message')} (checked on {host} {age:.0f} s ago)")
    outcome: dict[str, object] = {"host": host, "url": url}
    try:
        status = check_endpoint(base_url, timeout=timeout, transport=transport)
    except ConfigError as exc:
        outcome.update(ok=False, kind="config", message=str(exc))
        raise
    except TransientError as exc:
        outcome.update(ok=False, kind="transient", message=str(exc))
        raise
    else:
        outcome.update(ok=True, status_code=status.status_code)
        return status
    finally:
        outcome["checked_at"] = time.time()
        write_json_atomic(path, outcome)


def _read_outcome(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
