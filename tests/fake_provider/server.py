"""A loopback OpenAI-compatible chat completions server for tests and benchmarks.

It listens on 127.0.0.1 only (a free port), checks each request's shape (a
data URL image of its true type, the JSON schema, the key header), knows the
registered images by their looks (a small thumbnail, so the prepared and
re-encoded copy a job sends still matches), answers from their ground truth
in the styles real models use, and injects faults: per image in a planned
order, or at random rates. It also lists its models at ``GET /v1/models``,
which the engine's connectivity check asks for. Every request is logged.

Faults (names used in ``plans`` and ``rates``):

ok, fence, fence_upper, prose, flat             good answers in other wrappings
error_in_200, finish_error                      provider errors inside a 200
truncated, refusal, empty, reasoning_empty,     bad answers
invalid_json
http_408, http_500, http_502, http_503,         server trouble
server_error, timeout, reset, stream_cut
rate_limit, rate_limit_date                     429 with Retry-After (s / date)
quota, credits, auth                            429 daily, 402, 401
model_missing, no_image_endpoint                404s
schema_rejected                                 400 about response_format
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import math
import random
import socket
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS

from .answers import pick, render_reply, style_for

THUMB = 16
MATCH_LIMIT = 8.0  # mean grey-level difference of a match (0-255)
SIGNATURES = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/webp": b"RIFF",
}
SERVER_ERRORS = (500, 502, 503, 504)


def thumbnail(source: Path | bytes) -> np.ndarray:
    """A 16x16 grey thumbnail, upright, as floats: what matching compares."""
    handle = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    with handle as image:
        image.draft("L", (THUMB * 8, THUMB * 8))
        upright = ImageOps.exif_transpose(image).convert("L")
        small = upright.resize((THUMB, THUMB), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


@dataclass
class Registered:
    """An image the fake provider knows, with what it should answer."""

    name: str
    thumb: np.ndarray
    truth: dict[str, str] | None = None
    style: str | None = None


@dataclass
class FakeConfig:
    """How the fake provider behaves; change fields between runs as needed.

    :param keys: accepted key -> label for the log; None accepts no key check.
    :param models: model ids that exist; None accepts any model.
    :param no_image_models: models that exist but take no images (404).
    :param rpm: requests per minute before 429 (a token bucket that refills
        continuously, ``rpm_burst`` deep, like providers that enforce a
        per-minute limit over short windows); None for no limit.
    :param retry_after: "seconds" (integer, rounded up), "date" (HTTP date)
        or "ms" (seconds plus retry-after-ms) for the rpm limit's 429s.
    :param quota_after: successful requests per key label before a daily-quota
        429; credits_after: successful requests in all before 402.
    :param reject_formats: response_format types answered with a 400.
    :param cost_per_request: add OpenRouter's usage.cost with this value.
    :param plans: image name (or "*") -> faults for its 1st, 2nd ... request.
    :param rates: fault -> probability per request, after plans run out.
    :param list_models: answer ``GET /v1/models`` (the connectivity check)
        with the model list; False answers 404, as some servers do.
    """

    keys: dict[str, str] | None = None
    models: set[str] | None = None
    no_image_models: set[str] = field(default_factory=set)
    latency_s: float = 0.0
    latency_jitter_s: float = 0.0
    rpm: float | None = None
    rpm_burst: float | None = None
    retry_after: str = "seconds"
    planned_retry_after_s: float = 1.0
    quota_after: dict[str, int] = field(default_factory=dict)
    credits_after: int | None = None
    reject_formats: set[str] = field(default_factory=set)
    cost_per_request: float | None = None
    plans: dict[str, list[str]] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    style: str | None = None
    hang_s: float = 3.0
    seed: int = 7
    list_models: bool = True


class FakeProvider:
    """The server; start it with :meth:`start` (or use it as a context manager).

    >>> with FakeProvider(FakeConfig()) as fake:
    ...     base_url = fake.base_url  # http://127.0.0.1:<port>/v1
    """

    def __init__(
        self, config: FakeConfig | None = None, log_file: Path | None = None
    ) -> None:
        self.config = config or FakeConfig()
        # Each log entry is also appended here as a JSON line, for readers in
        # other processes (.ci/slurm.sh reads it while the server runs).
        self.log_file = log_file
        self.images: list[Registered] = []
        self.fallback_replies: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = defaultdict(int)
        self._served: dict[str, int] = defaultdict(int)
        self._rng = random.Random(self.config.seed)
        self._bucket: tuple[float, float] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._matrix: np.ndarray | None = None

    # -- set-up ----------------------------------------------------------------

    def register(
        self,
        path: Path,
        name: str | None = None,
        truth: dict[str, str] | None = None,
        style: str | None = None,
    ) -> None:
        """Teach the server one image (by its looks) and what to answer for it."""
        self.images.append(Registered(name or path.stem, thumbnail(path), truth, style))
        self._matrix = None

    def start(self, port: int = 0) -> FakeProvider:
        """Listen on 127.0.0.1 in a background thread (port 0: a free port)."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to put in openai.base_url."""
        assert self._server is not None, "start() the fake provider first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _append(self, entry: dict[str, Any]) -> None:
        """Add one entry to the log (and to ``log_file``, if set)."""
        with self._lock:
            self.requests.append(entry)
            if self.log_file is not None:
                with open(self.log_file, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")

    def reset_counters(self) -> None:
        """Forget quota and plan counters (a new day, credits topped up)."""
        with self._lock:
            self._counts.clear()
            self._served.clear()
            self._bucket = None

    def log(self) -> list[dict[str, Any]]:
        """A copy of the request log: chat requests and model-list requests."""
        with self._lock:
            return list(self.requests)

    def chat_log(self) -> list[dict[str, Any]]:
        """The chat completions requests of the log (what extraction sends)."""
        return [e for e in self.log() if e.get("method") == "POST"]

    def probe_log(self) -> list[dict[str, Any]]:
        """The ``GET .../models`` requests of the log (connectivity checks)."""
        return [e for e in self.log() if e.get("method") == "GET"]

    # -- matching and answering ------------------------------------------------

    def identify(self, data: bytes) -> Registered | None:
        """Return the registered image these bytes show, or None."""
        if not self.images:
            return None
        if self._matrix is None:
            self._matrix = np.stack([r.thumb for r in self.images])
        try:
            thumb = thumbnail(data)
        except OSError:
            return None
        distance = np.abs(self._matrix - thumb).mean(axis=(1, 2))
        best = int(distance.argmin())
        return self.images[best] if distance[best] <= MATCH_LIMIT else None

    def next_fault(self, name: str) -> str:
        """The fault for this request of image ``name`` (plans, then rates)."""
        config = self.config
        with self._lock:
            index = self._counts[name]
            self._counts[name] += 1
            plan = config.plans.get(name, config.plans.get("*", []))
            if index < len(plan):
                return plan[index]
            roll = self._rng.random()
        total = 0.0
        for fault, rate in config.rates.items():
            total += rate
            if roll < total:
                return fault
        return "ok"

    def take_token(self) -> float:
        """Take one request from the rpm bucket; return 0 or the seconds to wait."""
        config = self.config
        if not config.rpm:
            return 0.0
        rate = config.rpm / 60.0
        depth = config.rpm_burst or max(1.0, rate)
        now = time.monotonic()
        with self._lock:
            level, then = self._bucket or (depth, now)
            level = min(depth, level + (now - then) * rate)
            if level >= 1.0:
                self._bucket = (level - 1.0, now)
                return 0.0
            self._bucket = (level, now)
            return (1.0 - level) / rate

    def answer_text(self, image: Registered | None, fault: str) -> str:
        """The reply content for an image, wrapped as the fault says."""
        if image is not None and image.truth is not None:
            style = (
                "flat"
                if fault == "flat"
                else (image.style or self.config.style or style_for(image.name))
            )
            text = render_reply(image.truth, style)
        elif self.fallback_replies:
            text = pick(self.fallback_replies, image.name if image else "unknown")
        else:
            # An unknown sheet: a model that reads nothing answers all terms empty.
            text = render_reply({}, "flat" if fault == "flat" else "nested")
        if fault == "fence":
            return f"```json\n{text}\n```"
        if fault == "fence_upper":
            return f"```JSON\n{text}\n```\n"
        if fault == "prose":
            return (
                "Here is the information I could read from the specimen labels:\n\n"
                f"{text}\n\nSome fields were hard to read, so please check them."
            )
        return text


def _usage(body: dict[str, Any], content: str) -> dict[str, Any]:
    text = json.dumps(body.get("messages", ""))
    return {
        "prompt_tokens": 85 + len(text) // 400,
        "completion_tokens": max(1, len(content) // 4),
        "total_tokens": 85 + len(text) // 400 + max(1, len(content) // 4),
    }


def _check_shape(body: Any) -> tuple[list[str], dict[str, Any]]:
    """Return what is wrong with a request body, and facts for the log."""
    errors: list[str] = []
    facts: dict[str, Any] = {"image": None, "media_type": None, "ocr_text": False}
    if not isinstance(body, dict):
        return ["body is not a JSON object"], facts
    if not isinstance(body.get("model"), str):
        errors.append("model missing")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] > 32000:
        errors.append("max_tokens missing or above 32000")
    if "temperature" not in body:
        errors.append("temperature missing")
    messages = body.get("messages")
    parts = (
        messages[-1].get("content") if isinstance(messages, list) and messages else None
    )
    if not isinstance(parts, list):
        return [*errors, "user content is not a list of parts"], facts
    texts = [p.get("text", "") for p in parts if p.get("type") == "text"]
    images = [p for p in parts if p.get("type") == "image_url"]
    facts["ocr_text"] = any("OCR engine found" in t for t in texts)
    facts["reask"] = any("previous answer was not a valid JSON" in t for t in texts)
    if not texts:
        errors.append("no text part (prompt)")
    if len(images) != 1:
        return [*errors, f"{len(images)} image parts instead of 1"], facts
    url = str(images[0].get("image_url", {}).get("url", ""))
    head, _, payload = url.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        return [*errors, "image is not a base64 data URL"], facts
    media_type = head[5:].split(";")[0]
    data = base64.b64decode(payload)
    facts["media_type"] = media_type
    facts["image"] = data
    signature = SIGNATURES.get(media_type)
    if signature is None or not data.startswith(signature):
        errors.append(f"declared {media_type} but the bytes are not that type")
    fmt = body.get("response_format")
    facts["format"] = (
        (fmt or {}).get("type", "text") if isinstance(fmt, dict) else "text"
    )
    if facts["format"] == "json_schema":
        schema = fmt.get("json_schema", {}).get("schema", {})
        if set(schema.get("properties", {})) != set(EXTRACTED_TERMS):
            errors.append("json_schema does not list the Darwin Core terms")
    return errors, facts


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the request log is ours

    def _send(
        self, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, message: str, code: Any = None, **headers: str
    ) -> None:
        self._send(
            status, {"error": {"code": code or status, "message": message}}, headers
        )

    def do_GET(self) -> None:  # noqa: N802
        """Answer the model list, which the connectivity check asks for."""
        fake = self.fake
        entry: dict[str, Any] = {
            "t_recv": time.time(),
            "path": self.path,
            "method": "GET",
            "key": "none" if not self.headers.get("Authorization") else "given",
        }
        if self.path.endswith("/models") and fake.config.list_models:
            names = sorted(fake.config.models or {"fake/vision-1"})
            models = [{"id": name, "object": "model"} for name in names]
            self._send(200, {"object": "list", "data": models})
            entry["status"] = 200
        else:
            self._error(404, f"no route {self.path}")
            entry["status"] = 404
        entry["t_done"] = time.time()
        fake._append(entry)

    def do_POST(self) -> None:  # noqa: N802
        fake = self.fake
        config = fake.config
        entry: dict[str, Any] = {
            "t_recv": time.time(),
            "path": self.path,
            "method": "POST",
        }
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        errors, facts = _check_shape(body)
        image = fake.identify(facts.pop("image") or b"") if not errors else None
        auth = self.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip()
        if config.keys is None:
            label = "any"
        else:
            label = "none" if not key else config.keys.get(key, "wrong")
        entry.update(
            image=image.name if image else None,
            model=body.get("model") if isinstance(body, dict) else None,
            key=label,
            key_in_body=bool(key) and key.encode() in raw,
            max_tokens=body.get("max_tokens") if isinstance(body, dict) else None,
            shape_errors=errors,
            **facts,
        )
        try:
            entry.update(self._respond(body, errors, image, label, key))
        except (BrokenPipeError, ConnectionResetError):
            entry["client_gone"] = True  # the client timed out and left
            self.close_connection = True
        finally:
            entry["t_done"] = time.time()
            fake._append(entry)

    def _respond(
        self,
        body: Any,
        errors: list[str],
        image: Registered | None,
        label: str,
        key: str,
    ) -> dict[str, Any]:
        fake = self.fake
        config = fake.config
        if not self.path.endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return {"status": 404, "fault": "route"}
        if errors:
            self._error(400, "bad request shape: " + "; ".join(errors))
            return {"status": 400, "fault": "shape"}
        if config.keys is not None and label in ("none", "wrong"):
            self._error(
                401,
                "No auth credentials found" if label == "none" else "User not found.",
            )
            return {"status": 401, "fault": "auth"}
        wait = fake.take_token()
        if wait:
            return {"status": 429, "fault": "rpm_limit", **self._rate_limited(wait)}
        model = body["model"]
        if config.models is not None and model not in config.models:
            self._error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
            )
            return {"status": 404, "fault": "model_missing"}
        if model in config.no_image_models:
            self._error(404, "No endpoints found that support image input")
            return {"status": 404, "fault": "no_image_endpoint"}
        fmt = (
            body.get("response_format", {}).get("type", "text")
            if isinstance(body.get("response_format"), dict)
            else "text"
        )
        if fmt in config.reject_formats:
            self._error(400, f"response_format {fmt} is not supported by this model")
            return {"status": 400, "fault": "schema_rejected"}
        with fake._lock:
            served = fake._served[label]
            total = sum(fake._served.values())
        limit = config.quota_after.get(label)
        if limit is not None and served >= limit:
            return {"status": 429, "fault": "quota", **self._quota()}
        if config.credits_after is not None and total >= config.credits_after:
            self._error(
                402,
                "Insufficient credits: this account's balance is too low. "
                "Add credits and retry.",
            )
            return {"status": 402, "fault": "credits"}
        fault = fake.next_fault(image.name if image else "unknown")
        with fake._lock:
            fake._served[label] += 1
        return {"fault": fault, **self._fault(fault, body, image)}

    def _rate_limited(self, wait: float) -> dict[str, Any]:
        style = self.fake.config.retry_after
        seconds = max(1, math.ceil(wait))
        headers = {"Retry-After": str(seconds)}
        if style == "date":
            headers = {
                "Retry-After": email.utils.formatdate(
                    time.time() + seconds + 1, usegmt=True
                )
            }
        elif style == "ms":
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        self._error(429, "Rate limit exceeded: limit_rpm/vision. Slow down.", **headers)
        return {"retry_after": headers}

    def _quota(self) -> dict[str, Any]:
        reset = (int(time.time() // 86400) + 1) * 86400 * 1000
        self._error(
            429,
            "Rate limit exceeded: free-models-per-day. "
            "Add credits to unlock more requests.",
            **{"X-RateLimit-Reset": str(reset)},
        )
        return {}

    def _fault(
        self, fault: str, body: dict[str, Any], image: Registered | None
    ) -> dict[str, Any]:
        config = self.fake.config
        if fault in ("http_408", "http_500", "http_502", "http_503", "server_error"):
            status = (
                int(fault[5:])
                if fault.startswith("http_")
                else random.choice(SERVER_ERRORS)
            )
            self._error(
                status, "upstream trouble" if status != 408 else "request timeout"
            )
            return {"status": status}
        if fault in ("rate_limit", "rate_limit_date"):
            wait = config.planned_retry_after_s
            if fault == "rate_limit":
                headers = {"Retry-After": str(math.ceil(wait))}
                if config.retry_after == "ms":
                    headers["retry-after-ms"] = str(round(wait * 1000))
            else:
                headers = {
                    "Retry-After": email.utils.formatdate(
                        math.ceil(time.time()) + wait, usegmt=True
                    )
                }
            self._error(429, "Rate limit exceeded: limit_rpm. Slow down.", **headers)
            return {"status": 429, "retry_after": headers}
        if fault == "quota":
            self._quota()
            return {"status": 429}
        if fault == "credits":
            self._error(402, "Insufficient credits: this account's balance is too low.")
            return {"status": 402}
        if fault == "auth":
            self._error(401, "User not found.")
            return {"status": 401}
        if fault == "model_missing":
            self._error(404, f"The model `{body['model']}` does not exist.")
            return {"status": 404}
        if fault == "no_image_endpoint":
            self._error(404, "No endpoints found that support image input")
            return {"status": 404}
        if fault == "schema_rejected":
            self._error(400, "response_format json_schema is not supported")
            return {"status": 400}
        delay = config.latency_s + random.random() * config.latency_jitter_s
        if fault == "timeout":
            # Hang past the client's timeout, then hang up: a reply sent now
            # could not reach a client that has left, and must not be logged
            # as paid.
            time.sleep(config.hang_s)
            self.close_connection = True
            return {"status": None}
        if delay:
            time.sleep(delay)
        if fault == "reset":
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
            self.close_connection = True
            return {"status": None}
        if fault == "error_in_200":
            self._send(
                200,
                {
                    "error": {
                        "code": 502,
                        "message": "Provider returned error",
                        "metadata": {"provider_name": "fake"},
                    }
                },
            )
            return {"status": 200}
        content = self.fake.answer_text(image, fault)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content,
            "refusal": None,
        }
        finish = "stop"
        if fault == "finish_error":
            message["content"] = content[: len(content) // 3] + "PARTIAL"
            finish = "error"
        elif fault == "truncated":
            message["content"] = content[: len(content) // 2]
            finish = "length"
        elif fault == "refusal":
            message["content"] = None
            message["refusal"] = "I'm sorry, I can't help with reading this document."
        elif fault == "empty":
            message["content"] = ""
        elif fault == "reasoning_empty":
            message["content"] = ""
            message["reasoning"] = (
                "The label is faint; the collector might be J. Looman..."
            )
        elif fault == "invalid_json":
            message["content"] = (
                "I looked at the sheet. The catalogue number seems to be 01234 and "
                "the collector is hard to read, so I cannot give all fields."
            )
        payload = {
            "id": f"chatcmpl-fake-{time.time_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(body, message["content"] or ""),
        }
        if config.cost_per_request is not None:
            payload["usage"]["cost"] = config.cost_per_request
        if fault == "finish_error":
            payload["choices"][0]["error"] = {
                "code": 502,
                "message": "upstream stream error",
            }
        if fault == "stream_cut":
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return {"status": 200}
        self._send(200, payload)
        return {"status": 200, "tokens": payload["usage"]}
