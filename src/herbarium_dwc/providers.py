"""OpenAI-compatible chat completions: settings, requests, replies.

This module knows the wire format and nothing about retries: it builds the
request for one specimen, sends it, and sorts whatever comes back into one
:class:`Outcome`. The ``openai`` engine decides what each outcome means for
the specimen and for the shared rate gate.

Providers it is written against: OpenRouter (the default), OpenAI, and local
servers with an OpenAI-compatible API (vLLM, Ollama). References:
https://platform.openai.com/docs/api-reference/chat/create and
https://openrouter.ai/docs/api-reference/overview (errors and ``usage``).
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import math
import os
import re
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from herbarium_dwc.dwc.model import TERM_DESCRIPTIONS, response_schema
from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.errors import ConfigError
from herbarium_dwc.settings import DEFAULT_PRESETS

logger = logging.getLogger(__name__)

RESPONSE_FORMATS = ("json_schema", "json_object", "text")
# A daily quota announces itself in words, or by asking for a pause longer
# than any per-minute limit would.
QUOTA_WORDS = re.compile(r"per[- _]?day|daily|quota|insufficient_quota", re.I)
QUOTA_PAUSE_S = 600.0
FORMAT_WORDS = re.compile(
    r"response_format|json_schema|json[_ ]object|structured output|json mode", re.I
)
IMAGE_WORDS = re.compile(r"image input|support(s|ing)? images?|vision", re.I)
# Values models write when a label does not give a term; they mean "absent".
SENTINELS = frozenset(
    ["", "-", "--", "?", "n/a", "na", "nil", "none", "null", "unknown"]
    + ["not specified", "not provided", "not available", "not applicable"]
    + ["not visible", "not given", "not stated"]
)
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n?(.*?)```", re.S)
_OPEN_FENCE = re.compile(r"^```[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


# -- settings -----------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    prompt: float
    completion: float


@dataclass(frozen=True)
class ProviderSettings:
    """The ``openai`` section of the workflow config, checked and resolved.

    Build it with :meth:`from_config`; presets are resolved to model ids and
    the key variables are named, never read, here.
    """

    base_url: str
    models: tuple[str, ...]
    key_envs: tuple[str, ...]
    max_tokens: int = 2000
    temperature: float = 0.0
    timeout_s: float = 300.0
    max_attempts: int = 5
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0
    rpm: float | None = None
    concurrency: int = 4
    budget_usd: float | None = None
    prompt: str = "dwc-v1"
    send_ocr_text: bool = False
    response_format: str = "json_schema"
    prices: dict[str, Price] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The host part of ``base_url`` (what records and events name)."""
        return urlsplit(self.base_url).hostname or self.base_url

    @property
    def is_openrouter(self) -> bool:
        """True when the provider is OpenRouter (it reports cost on request)."""
        return self.host.endswith("openrouter.ai")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ProviderSettings:
        """Read the ``openai`` section of a validated workflow config.

        :raises ConfigError: a value cannot be used (the message names it).

        >>> ProviderSettings.from_config({"openai": {"model": "gpt-4o-mini"}}).models
        ('openai/gpt-4o-mini',)
        """
        section: dict[str, Any] = dict(config.get("openai") or {})
        base_url = str(section.get("base_url") or "https://openrouter.ai/api/v1")
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError(
                f"openai.base_url: {base_url!r} is not an http(s) URL; use e.g. "
                "https://openrouter.ai/api/v1 or http://127.0.0.1:8000/v1"
            )
        presets = {**DEFAULT_PRESETS, **(section.get("presets") or {})}
        model = str(section.get("model") or "")
        if not model:
            raise ConfigError(
                "openai.model is empty; name a model id or a preset "
                f"({', '.join(sorted(presets))})"
            )
        chain = [model, *[str(m) for m in section.get("fallback_models") or []]]
        models = tuple(dict.fromkeys(str(presets.get(m, m)) for m in chain))
        envs = [str(e) for e in section.get("api_key_envs") or []]
        if not envs and section.get("api_key_env", "OPENROUTER_API_KEY"):
            envs = [str(section.get("api_key_env", "OPENROUTER_API_KEY"))]
        fmt = str(section.get("response_format") or "json_schema")
        if fmt not in RESPONSE_FORMATS:
            raise ConfigError(
                f"openai.response_format: {fmt!r} is unknown; use one of "
                f"{', '.join(RESPONSE_FORMATS)}"
            )
        prices: dict[str, Price] = {}
        for name, row in (section.get("prices") or {}).items():
            try:
                prices[str(name)] = Price(
                    float(row["prompt"]), float(row["completion"])
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(
                    f"openai.prices.{name}: give prompt and completion in USD per "
                    "million tokens, e.g. {prompt: 0.15, completion: 0.6}"
                ) from exc
        rpm = section.get("rpm")
        budget = section.get("budget_usd")
        return cls(
            base_url=base_url.rstrip("/"),
            models=models,
            key_envs=tuple(envs),
            max_tokens=int(section.get("max_tokens", 2000)),
            temperature=float(section.get("temperature", 0.0)),
            timeout_s=float(section.get("timeout_s", 300.0)),
            max_attempts=max(1, int(section.get("max_attempts", 5))),
            backoff_s=float(section.get("backoff_s", 2.0)),
            backoff_max_s=float(section.get("backoff_max_s", 60.0)),
            rpm=float(rpm) if rpm else None,
            concurrency=max(1, int(section.get("concurrency", 4))),
            budget_usd=float(budget) if budget is not None else None,
            prompt=str(section.get("prompt") or "dwc-v1"),
            send_ocr_text=bool(section.get("send_ocr_text", False)),
            response_format=fmt,
            prices=prices,
        )


def read_keys(settings: ProviderSettings) -> list[tuple[str, str]]:
    """Return (variable name, key) for every key variable that is set.

    An empty list with no key variables configured means the server needs no
    key (a local vLLM or Ollama server).

    :raises ConfigError: key variables are configured but none is set.
    """
    keys = [(name, os.environ.get(name, "").strip()) for name in settings.key_envs]
    found = [(name, key) for name, key in keys if key]
    if settings.key_envs and not found:
        names = " or ".join(settings.key_envs)
        raise ConfigError(
            f"{names} is not set; export it (the API key), set "
            "openai.api_key_env: '' for a local server without keys, or set "
            "engine: offline"
        )
    return found


def prompt_file(name: str, workflow_dir: str | Path = ".") -> Path:
    """Return the prompt file ``openai.prompt`` names.

    A bare name (``dwc-v1``) is ``config/prompts/dwc-v1.txt`` in the
    workflow folder; anything with a slash or ``.txt`` is a path.
    """
    if "/" in name or name.endswith(".txt"):
        return Path(name)
    return Path(workflow_dir) / "config" / "prompts" / f"{name}.txt"


def load_prompt(path: str | Path) -> str:
    """Read a prompt file and fill ``$terms`` with the requested terms.

    :raises ConfigError: the file cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"prompt file {path} cannot be read ({exc}); set openai.prompt to a "
            "name under config/prompts (e.g. dwc-v1) or a path to a .txt file"
        ) from exc
    terms = "\n".join(f"- {t}: {TERM_DESCRIPTIONS[t]}" for t in EXTRACTED_TERMS)
    return string.Template(text).safe_substitute(terms=terms)


# -- requests -----------------------------------------------------------------


def sniff_media_type(data: bytes) -> str | None:
    """Return the media type the bytes' signature shows, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def image_data_url(data: bytes, media_type: str) -> str:
    """Return the image as a base64 data URL with its true media type.

    The type the bytes' signature shows wins over ``media_type``: providers
    reject or misread an image whose declared type is wrong.
    """
    true_type = sniff_media_type(data) or media_type
    return f"data:{true_type};base64,{base64.b64encode(data).decode('ascii')}"


REASK = (
    "Your previous answer was not a valid JSON object. Answer again with only "
    "the JSON object, no other text."
)


def build_request(
    model: str,
    prompt: str,
    image_url: str,
    *,
    max_tokens: int,
    temperature: float,
    response_format: str,
    ocr_text: str | None = None,
    reask: bool = False,
    openrouter: bool = False,
) -> dict[str, Any]:
    """Return the JSON body of one chat completions request.

    :param response_format: json_schema (the :mod:`herbarium_dwc.dwc.model`
        schema, strict), json_object, or text (no ``response_format``).
    :param ocr_text: OCR text of the sheet, sent as a hint when configured.
    :param reask: add a note that the previous answer was not valid JSON.
    :param openrouter: ask OpenRouter to report the cost in ``usage``.

    >>> body = build_request("m", "Read it.", "data:image/jpeg;base64,AA==",
    ...     max_tokens=2000, temperature=0, response_format="json_object")
    >>> body["response_format"]
    {'type': 'json_object'}
    """
    text = prompt
    if ocr_text and ocr_text.strip():
        text += (
            "\n\nText an OCR engine found on the sheet (it may contain errors; "
            "trust the image where they disagree):\n" + ocr_text.strip()
        )
    if reask:
        text += "\n\n" + REASK
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": image_url}},
                ],
            }
        ],
        "max_tokens": max_tokens,
        "temperature": temperature,
    }
    if response_format == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": "darwin_core_label",
                "strict": True,
                "schema": response_schema(),
            },
        }
    elif response_format == "json_object":
        body["response_format"] = {"type": "json_object"}
    if openrouter:
        body["usage"] = {"include": True}
    return body


# -- replies ------------------------------------------------------------------


class Outcome(StrEnum):
    """What one request came to."""

    ok = "ok"
    provider_error = "provider_error"  # error object in a 200, finish_reason error
    truncated = "truncated"  # finish_reason length
    empty_response = "empty_response"  # no content (reasoning models)
    refused = "refused"  # the refusal field is set
    server_error = "server_error"  # 408, 5xx
    timeout = "timeout"
    connection_lost = "connection_lost"  # reset, stream cut, half a body
    connect_failed = "connect_failed"  # the server cannot be reached
    rate_limited = "rate_limited"  # 429 per-minute limit
    quota = "quota"  # 429 daily quota
    credits = "credits"  # 402
    auth = "auth"  # 401, 403
    model_unavailable = "model_unavailable"  # 404, or no endpoint takes images
    format_rejected = "format_rejected"  # 400 about response_format
    bad_request = "bad_request"  # any other 4xx


@dataclass
class ChatReply:
    """One request's outcome and everything known about it."""

    outcome: Outcome
    status: int | None = None
    message: str = ""
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    retry_after_s: float | None = None
    latency_s: float = 0.0


def parse_retry_after(headers: httpx.Headers, now: float) -> float | None:
    """Return the pause a reply asks for, in seconds, or None.

    Reads ``retry-after-ms`` (OpenAI), ``Retry-After`` as seconds or as an
    HTTP date (RFC 9110 section 10.2.3), then ``X-RateLimit-Reset`` as an
    epoch time in seconds or milliseconds (OpenRouter).
    """
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, when.timestamp() - now)
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            stamp = float(value)
        except ValueError:
            return None
        if stamp > 1e11:
            stamp /= 1000
        if stamp > 1e9:
            return max(0.0, stamp - now)
    return None


def _error_text(body: Any) -> tuple[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("type") or error)
        return message, error.get("code")
    if isinstance(error, str):
        return error, None
    return "", None


def _usage(reply: ChatReply, body: dict[str, Any]) -> None:
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return
    for name in ("prompt_tokens", "completion_tokens"):
        if isinstance(usage.get(name), int):
            setattr(reply, name, usage[name])
    cost = usage.get("cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        reply.cost_usd = float(cost)


def _message_text(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        )
    return str(content)


def classify_response(
    status: int, headers: httpx.Headers, body: bytes, now: float
) -> ChatReply:
    """Sort one HTTP reply into an :class:`Outcome` (never raises).

    >>> classify_response(429, httpx.Headers({"Retry-After": "7"}), b"{}", 0).outcome
    <Outcome.rate_limited: 'rate_limited'>
    """
    try:
        data: Any = json.loads(body) if body else {}
    except ValueError:
        data = None
    message, code = _error_text(data)
    if status != 200 and not message:
        message = body[:300].decode("utf-8", "replace") or f"HTTP {status}"
    reply = ChatReply(Outcome.ok, status=status, message=message)
    if isinstance(data, dict):
        _usage(reply, data)
        reply.model = data.get("model") if isinstance(data.get("model"), str) else None
    if status != 200:
        reply.retry_after_s = parse_retry_after(headers, now)
        reply.outcome = _status_outcome(status, message, code, reply.retry_after_s)
        return reply
    if data is None:
        # A 200 whose body does not parse was cut off on the way.
        reply.outcome = Outcome.connection_lost
        reply.message = f"reply body cut off after {len(body)} bytes"
        return reply
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices:
        if isinstance(code, int) and code in (401, 402, 403, 404, 429):
            reply.outcome = _status_outcome(code, message, code, None)
        else:
            reply.outcome = Outcome.provider_error
        reply.message = message or "reply has neither choices nor an error"
        return reply
    choice: dict[str, Any] = choices[0] if isinstance(choices[0], dict) else {}
    msg: dict[str, Any] = (
        choice["message"] if isinstance(choice.get("message"), dict) else {}
    )
    reply.finish_reason = choice.get("finish_reason")
    if reply.finish_reason == "error" or isinstance(choice.get("error"), dict):
        reply.outcome = Outcome.provider_error
        reply.message = message or _error_text(choice)[0] or "finish_reason error"
        return reply  # partial content is never kept
    reply.content = _message_text(msg.get("content"))
    refusal = msg.get("refusal")
    reply.refusal = str(refusal) if refusal else None
    reasoning = msg.get("reasoning") or msg.get("reasoning_content")
    reply.reasoning = str(reasoning) if reasoning else None
    if reply.finish_reason == "length":
        reply.outcome = Outcome.truncated
        reply.message = "the reply hit max_tokens (finish_reason length)"
    elif reply.refusal:
        reply.outcome = Outcome.refused
        reply.message = "the model refused"
    elif not (reply.content or "").strip():
        reply.outcome = Outcome.empty_response
        reply.message = "the reply has no content"
    return reply


def _status_outcome(
    status: int, message: str, code: Any, retry_after: float | None
) -> Outcome:
    if status == 429:
        if (
            QUOTA_WORDS.search(message)
            or code == "insufficient_quota"
            or (retry_after is not None and retry_after > QUOTA_PAUSE_S)
        ):
            return Outcome.quota
        return Outcome.rate_limited
    if status == 402:
        return Outcome.credits
    if status in (401, 403):
        return Outcome.auth
    if status == 404 or (status in (400, 422) and IMAGE_WORDS.search(message)):
        return Outcome.model_unavailable
    if status in (400, 422) and FORMAT_WORDS.search(message):
        return Outcome.format_rejected
    if status == 408 or status >= 500:
        return Outcome.server_error
    return Outcome.bad_request


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret (and its first 8 characters) in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key]")
            if len(secret) >= 12:
                text = text.replace(secret[:8], "[key]")
    return text


class ProviderClient:
    """Sends chat completions requests to one OpenAI-compatible server.

    :param base_url: e.g. https://openrouter.ai/api/v1.
    :param timeout_s: the longest wait for a reply (connecting waits at most
        10 s of it).
    :param secrets: the keys in use, removed from every message it returns.

    >>> client = ProviderClient("http://127.0.0.1:8000/v1", timeout_s=60)
    >>> reply = client.send({"model": "m", "messages": []}, key=None)
    """

    def __init__(
        self, base_url: str, timeout_s: float, secrets: Sequence[str] = ()
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.secrets = tuple(secrets)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, body: dict[str, Any], key: str | None) -> ChatReply:
        """POST one request and classify what comes back (never raises)."""
        headers = {"Content-Type": "application/json", "X-Title": "herbarium-dwc"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        started = time.perf_counter()
        try:
            response = self._http.post(
                self.url, content=json.dumps(body).encode("utf-8"), headers=headers
            )
            reply = classify_response(
                response.status_code, response.headers, response.content, time.time()
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            reply = ChatReply(Outcome.connect_failed, message=f"cannot connect: {exc}")
        except httpx.TimeoutException as exc:
            reply = ChatReply(Outcome.timeout, message=f"no reply in time: {exc!r}")
        except httpx.HTTPError as exc:
            reply = ChatReply(
                Outcome.connection_lost, message=f"connection lost: {exc!r}"
            )
        reply.latency_s = round(time.perf_counter() - started, 3)
        reply.message = redact(reply.message, self.secrets)[:500]
        return reply


def cost_usd(reply: ChatReply, model: str, prices: dict[str, Price]) -> float | None:
    """Return what a reply cost: the provider's figure, else the price table."""
    if reply.cost_usd is not None:
        return reply.cost_usd
    price = prices.get(model) or prices.get(reply.model or "")
    if price is None or (
        reply.prompt_tokens is None and reply.completion_tokens is None
    ):
        return None
    return (
        (reply.prompt_tokens or 0) * price.prompt
        + (reply.completion_tokens or 0) * price.completion
    ) / 1e6


# -- reading the label JSON ---------------------------------------------------


class InvalidReply(ValueError):
    """The reply text holds no JSON object we can read."""


@dataclass
class LabelAnswer:
    """The terms read from one reply.

    :param unknown_keys: keys that are not requested terms (dropped).
    :param repaired: the JSON needed unwrapping or repair to parse.
    """

    verbatim: dict[str, str]
    confidence: dict[str, float]
    unknown_keys: list[str]
    repaired: bool = False


def _loads_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def find_json_object(text: str) -> tuple[dict[str, Any], bool]:
    """Find the JSON object in a model's reply text.

    Strips a code fence (```json, ```JSON, a bare ```), finds an object in
    surrounding prose, and drops trailing commas.

    :returns: the object and whether anything had to be stripped or repaired.
    :raises InvalidReply: no JSON object can be read.
    """
    stripped = text.strip().lstrip("\ufeff")
    found = _loads_object(stripped)
    if found is not None:
        return found, False
    candidates = [m.group(1) for m in _FENCE.finditer(stripped)]
    if _OPEN_FENCE.match(stripped):
        candidates.append(_OPEN_FENCE.sub("", stripped, count=1).rstrip("`\n "))
    candidates.append(stripped)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            found = _loads_object(attempt.strip())
            if found is not None:
                return found, True
            for match in re.finditer(r"\{", attempt):
                try:
                    value, _ = decoder.raw_decode(attempt, match.start())
                except ValueError:
                    continue
                if isinstance(value, dict) and value:
                    return value, True
    raise InvalidReply("no JSON object found in the reply")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_as_text(v) for v in value if _as_text(v))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _as_confidence(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number):
        return None
    return min(1.0, max(0.0, number))


def read_label_json(text: str) -> LabelAnswer:
    """Read the Darwin Core terms from a model's reply text.

    Takes both shapes real models produce, flat ``{term: value}`` and
    ``{term: {value, confidence}}``; maps sentinels ("N/A", "Not Specified",
    "unknown", "", null) to absent; drops keys that are not requested terms
    and lists them.

    :raises InvalidReply: no JSON object, or not one of those shapes.

    >>> reply = '```json\\n{"country": {"value": "Canada", "confidence": 1}}\\n```'
    >>> read_label_json(reply).verbatim
    {'country': 'Canada'}
    """
    data, repaired = find_json_object(text)
    if len(data) == 1:
        (only,) = data.values()
        key = next(iter(data))
        if isinstance(only, dict) and key not in EXTRACTED_TERMS and only:
            data, repaired = only, True  # {"dwc": {...}} or {"record": {...}}
    verbatim: dict[str, str] = {}
    confidence: dict[str, float] = {}
    unknown: list[str] = []
    known = 0
    for key, raw in data.items():
        term = str(key).strip().removeprefix("dwc:")
        if term not in EXTRACTED_TERMS:
            unknown.append(str(key))
            continue
        conf: float | None = None
        if isinstance(raw, dict):
            if "value" not in raw:
                unknown.append(str(key))
                continue
            value = _as_text(raw.get("value"))
            conf = _as_confidence(raw.get("confidence"))
        else:
            value = _as_text(raw)
        known += 1
        if value.lower() in SENTINELS:
            continue
        verbatim[term] = value
        if conf is not None:
            confidence[term] = conf
    if not known:
        raise InvalidReply(
            "the JSON object holds none of the requested terms"
            + (f" (keys: {', '.join(unknown[:8])})" if unknown else "")
        )
    return LabelAnswer(verbatim, confidence, unknown, repaired)
