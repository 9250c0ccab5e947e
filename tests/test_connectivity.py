"""The connectivity check against a tiny HTTP server on 127.0.0.1, alone and
as the openai engine makes it before a host's first request.

The servers are started by the fixtures below in threads; the only traffic
goes to 127.0.0.1. Host-name failures cannot be caused on loopback without asking
a resolver, so that one case goes through httpx.MockTransport.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from herbarium_dwc import connectivity
from herbarium_dwc.connectivity import (
    check_endpoint,
    check_endpoint_once,
    describe_failed_checks,
    forget_checks,
    probe_url,
)
from herbarium_dwc.engines.openai import OpenAIEngine
from herbarium_dwc.errors import ConfigError, TransientError
from herbarium_dwc.images import PreparedImage, PrepareSettings, prepare_image
from herbarium_dwc.ratelimit import describe_closed_gate

from .conftest import REPO, draw_sheet, unused_loopback_port
from .fake_provider import FakeConfig, FakeProvider, draw_coded_sheet

PROMPT = REPO / "config" / "prompts" / "dwc-v1.txt"


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
    url = f"http://127.0.0.1:{unused_loopback_port()}/v1"
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
    # Word for word the same, so N jobs show one message, not N variants.
    assert str(second.value) == str(first.value)
    assert str(first.value).startswith("cannot connect to API endpoint")
    assert f"(checked on {socket.gethostname()} at " in str(first.value)


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


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port of 127.0.0.1 that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_jobs_starting_together_wait_for_one_check(
    silent_port: int, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{silent_port}/v1"
    barrier = threading.Barrier(6)

    def job() -> str:
        barrier.wait()
        try:
            check_endpoint_once(url, tmp_path, timeout=0.5)
        except TransientError as exc:
            return str(exc)
        return "reached"

    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        messages = list(pool.map(lambda _: job(), range(6)))
    # One 0.5 s timeout in all, not six (the lock serialises the check).
    assert time.monotonic() - started < 1.5
    assert len(set(messages)) == 1
    assert "did not answer within 0.5 s" in messages[0]


def test_forgotten_checks_are_made_again(tmp_path: Path) -> None:
    transport, calls = _counting(httpx.ConnectError("Connection refused"))
    url = "http://127.0.0.1:9/v1"
    with pytest.raises(TransientError):
        check_endpoint_once(url, tmp_path, transport=transport)
    assert forget_checks(tmp_path) == 1
    with pytest.raises(TransientError):
        check_endpoint_once(url, tmp_path, transport=transport)
    assert len(calls) == 2


def test_failed_checks_are_described_once_per_host_and_url(tmp_path: Path) -> None:
    refused, _ = _counting(httpx.ConnectError("Connection refused"))
    fine, _ = _counting(200)
    assert describe_failed_checks(tmp_path) is None
    check_endpoint_once("http://127.0.0.1:8/v1", tmp_path, transport=fine)
    assert describe_failed_checks(tmp_path) is None
    for _ in range(3):
        with pytest.raises(TransientError):
            check_endpoint_once("http://127.0.0.1:9/v1", tmp_path, transport=refused)
    message = describe_failed_checks(tmp_path)
    assert message is not None
    assert message.count("cannot connect to API endpoint") == 1
    assert "http://127.0.0.1:9/v1/models" in message
    assert "127.0.0.1:8" not in message


# -- through the openai engine ------------------------------------------------


def _engine_config(base_url: str, results: Path, **openai: object) -> dict[str, Any]:
    return {
        "engine": "openai",
        "results": str(results),
        "openai": {
            "base_url": base_url,
            "api_key_env": "",
            "model": "fake/vision-1",
            "rpm": None,
            "timeout_s": 1,
            "max_attempts": 3,
            "backoff_s": 0.05,
            "backoff_max_s": 0.2,
            **openai,
        },
    }


@pytest.fixture
def prepared(tmp_path: Path) -> PreparedImage:
    """A small drawn sheet, prepared as the workflow would send it."""
    return prepare_image(draw_sheet(tmp_path / "sheet.jpg"), PrepareSettings())


@pytest.fixture
def counted_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs check_endpoint really probed (not the remembered outcomes)."""
    calls: list[str] = []
    real = connectivity.check_endpoint

    def counting(base_url: str, **kwargs: Any) -> connectivity.EndpointStatus:
        calls.append(base_url)
        return real(base_url, **kwargs)

    monkeypatch.setattr(connectivity, "check_endpoint", counting)
    return calls


def test_engine_on_a_host_without_the_server_fails_every_specimen_at_once(
    tmp_path: Path, prepared: PreparedImage, counted_checks: list[str]
) -> None:
    config = _engine_config(f"http://127.0.0.1:{unused_loopback_port()}/v1", tmp_path)
    messages = []
    started = time.monotonic()
    for number in range(5):  # five jobs, each with its own engine
        engine = OpenAIEngine(config, prompt_path=PROMPT)
        with pytest.raises(TransientError) as caught:
            engine.extract(f"S{number}", prepared, None)
        messages.append(str(caught.value))
    # No retries with backoff: the connection is never tried for a specimen.
    assert time.monotonic() - started < 1.0
    assert len(counted_checks) == 1
    assert len(set(messages)) == 1
    assert messages[0].startswith("cannot connect to API endpoint http://127.0.0.1")
    assert "api_on_cluster: false" in messages[0]
    # Transient: the gate stays open, so another host (or a rerun) may go on.
    assert describe_closed_gate(config) is None
    assert not list((tmp_path / "specimens").glob("*/*.json"))


def test_engine_behind_a_silent_server_waits_for_one_timeout_not_n(
    tmp_path: Path,
    prepared: PreparedImage,
    silent_port: int,
    counted_checks: list[str],
) -> None:
    config = _engine_config(f"http://127.0.0.1:{silent_port}/v1", tmp_path)
    started = time.monotonic()
    for number in range(4):
        engine = OpenAIEngine(config, prompt_path=PROMPT)
        with pytest.raises(TransientError, match="did not answer within 1 s"):
            engine.extract(f"S{number}", prepared, None)
    # Without the check each specimen would wait max_attempts x timeout_s
    # (3 s); with it the first waits one timeout and the rest fail at once.
    assert time.monotonic() - started < 2.0
    assert len(counted_checks) == 1


def test_engine_with_an_unusable_url_closes_the_gate_as_a_config_error(
    tiny_server: ThreadingHTTPServer, tmp_path: Path, prepared: PreparedImage
) -> None:
    https = _base(tiny_server).replace("http://", "https://")
    config = _engine_config(https, tmp_path)
    for number in range(2):
        engine = OpenAIEngine(config, prompt_path=PROMPT)
        with pytest.raises(ConfigError, match="^TLS with API endpoint"):
            engine.extract(f"S{number}", prepared, None)
    stopped = describe_closed_gate(config)
    assert stopped is not None and "API requests stopped (config): TLS" in stopped
    assert tiny_server.paths == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("list_models", [True, False])
def test_engine_checks_once_then_extracts_as_before(
    tmp_path: Path,
    prepared: PreparedImage,
    counted_checks: list[str],
    list_models: bool,
) -> None:
    sheet = draw_coded_sheet(tmp_path / "coded.jpg", 3)
    image = prepare_image(sheet, PrepareSettings())
    # A server without the model list (404) is reachable all the same.
    with FakeProvider(FakeConfig(list_models=list_models)) as fake:
        fake.register(sheet, truth={"catalogNumber": "HERB000003"})
        config = _engine_config(fake.base_url, tmp_path / "results")
        for number in range(3):
            engine = OpenAIEngine(config, prompt_path=PROMPT)
            result = engine.extract(f"S{number}", image, None)
            assert result.verbatim["catalogNumber"] == "HERB000003"
        probes, chats = fake.probe_log(), fake.chat_log()
    assert len(counted_checks) == 1
    assert [(p["path"], p["key"]) for p in probes] == [("/v1/models", "none")]
    assert probes[0]["status"] == (200 if list_models else 404)
    assert len(chats) == 3 and probes[0]["t_done"] <= chats[0]["t_recv"]
