"""The connectivity check against a tiny HTTP server on 127.0.0.1.

The server is started by the fixture below in a thread; the only traffic goes
to 127.0.0.1. Host-name failures cannot be caused on loopback without asking
a resolver, so that one case goes through httpx.MockTransport.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from herbarium_dwc.connectivity import check_endpoint, check_endpoint_once, probe_url
from herbarium_dwc.errors import ConfigError, TransientError


class _Handler(BaseHTTPRequestHandler):
    """Answers by path: /v1/models 200, /keyed/v1/models 401, /proxy/v1/models
    407, /slow/v1/models after two seconds."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/slow/"):
            time.sleep(2)
        status = {"/keyed/v1/models": 401, "/proxy/v1/models": 407}.get(self.path, 200)
        body = b'{"object": "list", "data": [{"id": "tiny-model"}]}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tiny_server() -> Iterator[ThreadingHTTPServer]:
    """An HTTP server on 127.0.0.1 (free port) that records requested paths."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _base(server: ThreadingHTTPServer, prefix: str = "") -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}{prefix}/v1"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_reachable_endpoint_returns_its_status(
    tiny_server: ThreadingHTTPServer,
) -> None:
    status = check_endpoint(_base(tiny_server) + "/", timeout=5)
    assert status.status_code == 200
    assert status.url == _base(tiny_server) + "/models"
    assert tiny_server.paths == ["/v1/models"]  # type: ignore[attr-defined]


def test_unauthorised_answer_still_counts_as_reachable(
    tiny_server: ThreadingHTTPServer,
) -> None:
    assert check_endpoint(_base(tiny_server, "/keyed"), timeout=5).status_code == 401


def test_refused_connection_is_transient_and_names_the_url() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(TransientError) as caught:
        check_endpoint(url, timeout=5)
    message = str(caught.value)
    assert message.startswith(f"cannot connect to API endpoint {url}/models")
    assert "api_on_cluster: false" in message


def test_silent_server_times_out_quickly_as_transient(
    tiny_server: ThreadingHTTPServer,
) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        check_endpoint(_base(tiny_server, "/slow"), timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_https_to_a_plain_http_server_is_a_config_error(
    tiny_server: ThreadingHTTPServer,
) -> None:
    url = _base(tiny_server).replace("http://", "https://")
    with pytest.raises(ConfigError, match=r"^TLS with API endpoint https://127"):
        check_endpoint(url, timeout=5)


def test_proxy_asking_for_credentials_is_a_config_error(
    tiny_server: ThreadingHTTPServer,
) -> None:
    with pytest.raises(ConfigError, match="wants credentials"):
        check_endpoint(_base(tiny_server, "/proxy"), timeout=5)


@pytest.mark.parametrize("base_url", ["ftp://files.example/v1", "openrouter", ""])
def test_url_without_http_scheme_or_host_is_a_config_error(base_url: str) -> None:
    with pytest.raises(ConfigError, match="is not an http:// or https:// URL"):
        check_endpoint(base_url, timeout=1)


def test_unresolvable_host_is_transient_with_its_own_message() -> None:
    def no_dns(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    with pytest.raises(TransientError, match="does not resolve from this machine"):
        check_endpoint(
            "https://api.provider.test/v1", transport=httpx.MockTransport(no_dns)
        )


def test_probe_url_appends_models_once() -> None:
    assert probe_url(" http://127.0.0.1:9/v1// ") == "http://127.0.0.1:9/v1/models"


def _counting(answer: Exception | int) -> tuple[httpx.MockTransport, list[str]]:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json={"data": []})

    return httpx.MockTransport(handle), calls


def test_failure_is_remembered_so_later_jobs_fail_at_once(tmp_path: Path) -> None:
    transport, calls = _counting(httpx.ConnectError("Connection refused"))
    url = "http://127.0.0.1:9/v1"
    with pytest.raises(TransientError) as first:
        check_endpoint_once(url, tmp_path, transport=transport)
    with pytest.raises(TransientError) as second:
        check_endpoint_once(url, tmp_path, transport=transport)
    assert len(calls) == 1
    assert str(second.value).startswith(str(first.value))
    assert "s ago)" in str(second.value)


def test_success_is_remembered_and_expires(tmp_path: Path) -> None:
    transport, calls = _counting(200)
    url = "http://127.0.0.1:9/v1"
    status = check_endpoint_once(url, tmp_path, transport=transport)
    assert status is not None and status.status_code == 200
    assert check_endpoint_once(url, tmp_path, transport=transport) is None
    assert len(calls) == 1
    assert check_endpoint_once(url, tmp_path, max_age_s=0, transport=transport)
    assert len(calls) == 2


def test_remembered_config_error_stays_a_config_error(
    tiny_server: ThreadingHTTPServer, tmp_path: Path
) -> None:
    url = _base(tiny_server, "/proxy")
    for _ in range(2):
        with pytest.raises(ConfigError, match="wants credentials"):
            check_endpoint_once(url, tmp_path, timeout=5)
    assert tiny_server.paths == ["/proxy/v1/models"]  # type: ignore[attr-defined]
