"""Reading replies and sorting HTTP answers, without a server (fast)."""

from __future__ import annotations

import base64
import email.utils
import io
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from herbarium_dwc.dwc.model import response_schema
from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.engines.openai import backoff_delay
from herbarium_dwc.errors import ConfigError
from herbarium_dwc.providers import (
    InvalidReply,
    Outcome,
    ProviderSettings,
    build_request,
    classify_response,
    image_data_url,
    parse_retry_after,
    read_keys,
    read_label_json,
    redact,
)

NESTED = {"catalogNumber": {"value": "01075761", "confidence": 0.9}}


def test_real_nested_and_flat_replies_read_the_same(shared_data: Path) -> None:
    replies = shared_data / "aafc" / "replies"
    flat = {}
    for line in (replies / "gpt4omini_raw.jsonl").read_text().splitlines():
        row = json.loads(line)
        flat[row["sha256"]] = read_label_json(json.dumps(row["dwc"]))
    compared = 0
    for line in (replies / "gpt4omini_batch_output.jsonl").read_text().splitlines():
        row = json.loads(line)
        content = row["response"]["body"]["choices"][0]["message"]["content"]
        nested = read_label_json(content)
        twin = flat[row["custom_id"].removeprefix("specimen-")]
        assert nested.verbatim == twin.verbatim and nested.verbatim
        assert set(nested.confidence) == set(nested.verbatim)
        assert "verbatimLocality" in nested.unknown_keys
        compared += 1
    assert compared == 10


def test_real_qwen_replies_keep_values_and_confidences(shared_data: Path) -> None:
    path = shared_data / "aafc" / "replies" / "openrouter_qwen25vl72b_free_raw.jsonl"
    for line in path.read_text().splitlines():
        dwc = json.loads(line)["dwc"]
        answer = read_label_json(json.dumps(dwc))
        for term, cell in dwc.items():
            if term in EXTRACTED_TERMS and cell["value"]:
                assert answer.verbatim[term] == cell["value"]
                assert answer.confidence[term] == cell["confidence"]
            elif term not in EXTRACTED_TERMS:
                assert term in answer.unknown_keys


@pytest.mark.parametrize(
    "wrapped",
    [
        "```json\n{body}\n```",
        "```JSON\n{body}\n```",
        "```Json {body}```",
        "```\n{body}\n```\nHope this helps!",
        "Here is what the label says:\n{body}\nLet me know if you need more.",
        "```json\n{body}",  # an opening fence that was never closed
    ],
)
def test_fences_and_prose_are_stripped(wrapped: str) -> None:
    answer = read_label_json(wrapped.replace("{body}", json.dumps(NESTED)))
    assert answer.verbatim == {"catalogNumber": "01075761"}
    assert answer.repaired


def test_sentinels_are_absent_and_unknown_keys_listed() -> None:
    reply = {
        "dwc:country": "Canada",
        "county": "N/A",
        "habitat": "Not Specified",
        "locality": "unknown",
        "recordedBy": None,
        "recordNumber": "",
        "eventDate": {"value": "not visible", "confidence": 0.1},
        "preparations": "pressed",
    }
    answer = read_label_json(json.dumps(reply) + ",")
    assert answer.verbatim == {"country": "Canada"}
    assert answer.unknown_keys == ["preparations"]


def test_trailing_commas_and_wrapper_objects_are_repaired() -> None:
    answer = read_label_json('{"record": {"country": "Canada", "county": "Kings",}}')
    assert answer.verbatim == {"country": "Canada", "county": "Kings"}


@pytest.mark.parametrize(
    "text",
    ["", "I cannot read this label.", "[1, 2]", '{"notes": "faded label"}', "{broken"],
)
def test_text_without_a_term_object_is_invalid(text: str) -> None:
    with pytest.raises(InvalidReply):
        read_label_json(text)


def _chat(message: dict[str, object], finish: str = "stop") -> bytes:
    choice = {"index": 0, "message": message, "finish_reason": finish}
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.002}
    return json.dumps({"choices": [choice], "usage": usage}).encode()


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, _chat({"content": json.dumps(NESTED)}), Outcome.ok),
        (
            200,
            b'{"error": {"code": 502, "message": "upstream"}}',
            Outcome.provider_error,
        ),
        (200, _chat({"content": '{"cat'}, "error"), Outcome.provider_error),
        (200, _chat({"content": '{"cat'}, "length"), Outcome.truncated),
        (200, _chat({"content": "", "reasoning": "hmm"}), Outcome.empty_response),
        (200, _chat({"content": None, "refusal": "No."}), Outcome.refused),
        (200, _chat({"content": "x"})[:20], Outcome.connection_lost),
        (408, b"", Outcome.server_error),
        (503, b"<html>busy</html>", Outcome.server_error),
        (429, b'{"error": {"message": "Slow down"}}', Outcome.rate_limited),
        (429, b'{"error": {"message": "free-models-per-day"}}', Outcome.quota),
        (
            429,
            b'{"error": {"code": "insufficient_quota", "message": "x"}}',
            Outcome.quota,
        ),
        (402, b'{"error": {"message": "Insufficient credits"}}', Outcome.credits),
        (401, b'{"error": {"message": "No auth"}}', Outcome.auth),
        (403, b'{"error": {"message": "Forbidden"}}', Outcome.auth),
        (404, b'{"error": {"message": "No such model"}}', Outcome.model_unavailable),
        (
            400,
            b'{"error": {"message": "does not support image input"}}',
            Outcome.model_unavailable,
        ),
        (
            400,
            b'{"error": {"message": "response_format is invalid"}}',
            Outcome.format_rejected,
        ),
        (400, b'{"error": {"message": "image too large"}}', Outcome.bad_request),
    ],
)
def test_every_reply_is_sorted_into_one_outcome(
    status: int, body: bytes, outcome: Outcome
) -> None:
    assert classify_response(status, httpx.Headers(), body, 0.0).outcome is outcome


def test_partial_content_of_an_error_choice_is_not_kept() -> None:
    reply = classify_response(
        200, httpx.Headers(), _chat({"content": "{'x"}, "error"), 0
    )
    assert reply.content is None


def test_usage_and_cost_are_read() -> None:
    reply = classify_response(200, httpx.Headers(), _chat({"content": "{}"}), 0.0)
    assert (reply.prompt_tokens, reply.completion_tokens, reply.cost_usd) == (
        10,
        5,
        0.002,
    )


def test_retry_after_in_every_form() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"}), now) == 7
    assert parse_retry_after(
        httpx.Headers({"Retry-After": date}), now
    ) == pytest.approx(30)
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250"}), now) == 0.25
    reset = str(int((now + 60) * 1000))
    assert parse_retry_after(httpx.Headers({"X-RateLimit-Reset": reset}), now) == 60
    assert parse_retry_after(httpx.Headers({}), now) is None


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_data_url_names_the_true_media_type() -> None:
    url = image_data_url(_png(), "image/jpeg")
    head, payload = url.split(",", 1)
    assert head == "data:image/png;base64"
    assert base64.b64decode(payload) == _png()


def test_requests_carry_the_schema_or_a_lesser_format() -> None:
    args = {"max_tokens": 2000, "temperature": 0.0}
    strict = build_request("m", "p", "data:", response_format="json_schema", **args)
    schema = strict["response_format"]["json_schema"]["schema"]
    assert schema == response_schema() and schema["required"] == list(EXTRACTED_TERMS)
    plain = build_request("m", "p", "data:", response_format="text", **args)
    assert "response_format" not in plain and "usage" not in plain
    routed = build_request(
        "m", "p", "data:", response_format="json_object", openrouter=True, **args
    )
    assert routed["response_format"] == {"type": "json_object"}
    assert routed["usage"] == {"include": True}


def test_presets_resolve_and_keys_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {
        "openai": {
            "model": "gpt-4o-mini",
            "fallback_models": ["gemini-flash", "openai/gpt-4o-mini"],
            "api_key_envs": ["KEY_ONE", "KEY_TWO"],
        }
    }
    settings = ProviderSettings.from_config(config)
    assert settings.models == ("openai/gpt-4o-mini", "google/gemini-2.0-flash-001")
    monkeypatch.delenv("KEY_ONE", raising=False)
    monkeypatch.delenv("KEY_TWO", raising=False)
    with pytest.raises(ConfigError, match="KEY_ONE or KEY_TWO is not set"):
        read_keys(settings)
    monkeypatch.setenv("KEY_TWO", "sk-two")
    assert read_keys(settings) == [("KEY_TWO", "sk-two")]


def test_a_bad_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="openai.base_url"):
        ProviderSettings.from_config({"openai": {"base_url": "openrouter.ai"}})


def test_keys_are_redacted_from_messages() -> None:
    key = "sk-or-v1-0123456789abcdef"
    text = f"Incorrect API key provided: {key[:8]}***, full {key}"
    assert key[:8] not in redact(text, [key]) and key not in redact(text, [key])


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    for failures in range(1, 10):
        ceiling = min(60.0, 2.0 * 2 ** (failures - 1))
        delays = [backoff_delay(failures, 2.0, 60.0) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
