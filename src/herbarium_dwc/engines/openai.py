"""The ``openai`` engine: any OpenAI-compatible vision API, behind the rate gate.

What each reply means (issue 3's table):

============================  ==============================================
reply                         what happens
============================  ==============================================
no answer to the check        every job on that host fails at once with the
before a host's first         same message and no record (TransientError);
request (GET /models):        a rerun checks again
refused, no DNS, timeout
that check finds TLS,         the gate closes and the run stops (ConfigError)
scheme or proxy auth wrong
error object in a 200,        provider_error: retried with backoff; partial
finish_reason ``error``       content is never kept
finish_reason ``length``      one retry with twice the max_tokens, else
                              failed truncated
no content, ``refusal``       one retry / none, then failed empty_response
                              or refused, with the text kept in the record
not JSON after repair         one re-ask, then failed invalid_json
408, 5xx, timeout, reset,     retried with capped exponential backoff and
cut-off body                  jitter; after max_attempts failed
                              provider_error or timeout
429 (per-minute)              every process pauses until Retry-After
429 daily quota, 402, 401/3   the key is benched; with no key left the gate's
                              stop switch closes: no process sends another
                              request, the specimens stay pending (no JSON)
404 model, no image endpoint  the next fallback model; with none left the
                              gate closes and the run stops (ConfigError)
400 about response_format     json_schema -> json_object -> text, remembered
                              for the rest of the run
============================  ==============================================
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from herbarium_dwc.connectivity import check_endpoint_once, connectivity_dir
from herbarium_dwc.engines import EngineResult
from herbarium_dwc.errors import (
    ConfigError,
    FailureKind,
    GateClosedError,
    HostUnreachableError,
    SpecimenError,
    TransientError,
)
from herbarium_dwc.events import append_event
from herbarium_dwc.images import PreparedImage
from herbarium_dwc.providers import (
    RESPONSE_FORMATS,
    ChatReply,
    InvalidReply,
    Outcome,
    ProviderClient,
    ProviderSettings,
    build_request,
    cost_usd,
    image_data_url,
    load_prompt,
    prompt_file,
    read_keys,
    read_label_json,
)
from herbarium_dwc.ratelimit import GateSettings, RateGate, open_gate
from herbarium_dwc.record import EngineInfo, OcrResult, Usage
from herbarium_dwc.settings import run_id

logger = logging.getLogger(__name__)

RETRIED = frozenset(
    {
        Outcome.provider_error,
        Outcome.server_error,
        Outcome.timeout,
        Outcome.connection_lost,
        Outcome.connect_failed,
    }
)
# A specimen may wait out this many 429s before its job gives up (and stays
# pending); each wait also slows the shared rate, so more means a stuck run.
MAX_RATE_LIMITED = 30
# The longest quota reset we wait for with a benched key; beyond it the key
# stays benched for the rest of the run.
MAX_BENCH_S = 24 * 3600.0
REPLY_KEPT_CHARS = 4000
# The connectivity check before a host's first request: seconds it may take
# (at most openai.timeout_s; a GET of the model list answers in well under a
# second where the network works), and how long its outcome stands for the
# other jobs on the host. Each workflow run starts with a fresh check.
CHECK_TIMEOUT_S = 10.0
CHECK_MAX_AGE_S = 300.0


@dataclass
class _Progress:
    """What one specimen's attempts have used up so far."""

    max_tokens: int
    requests: int = 0
    failures: int = 0
    rate_limited: int = 0
    grew_tokens: bool = False
    reasked: bool = False
    retried_empty: bool = False
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    flags: list[str] = field(default_factory=list)

    def add_usage(self, reply: ChatReply, cost: float | None) -> None:
        if reply.prompt_tokens is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + reply.prompt_tokens
        if reply.completion_tokens is not None:
            self.completion_tokens = (
                self.completion_tokens or 0
            ) + reply.completion_tokens
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost

    def usage(self) -> Usage:
        cost = None if self.cost is None else round(self.cost, 8)
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=cost,
        )


class OpenAIEngine:
    """Extraction through an OpenAI-compatible chat completions API.

    :param config: the validated workflow config (its ``openai`` section).
    :param prompt_path: the prompt file; by default ``openai.prompt`` under
        config/prompts in the current folder.
    :param gate: the shared rate gate; by default the store ``openai.gate``
        names (``<results>/gate.sqlite``).
    :param client: the HTTP client; by default one for ``openai.base_url``.
    :raises ConfigError: settings, prompt or keys cannot be used.

    >>> engine = OpenAIEngine({"engine": "openai", "openai": {"model": "gpt-4o-mini"}})
    >>> result = engine.extract("NY01", prepared_image, None)
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        prompt_path: str | Path | None = None,
        gate: RateGate | None = None,
        client: ProviderClient | None = None,
    ) -> None:
        self.settings = settings = ProviderSettings.from_config(config)
        self._keys = read_keys(settings)
        self.run = run_id(config)
        path = Path(prompt_path) if prompt_path else prompt_file(settings.prompt)
        self.prompt = load_prompt(path)
        self.needs_ocr = settings.send_ocr_text
        self.info = EngineInfo(
            kind="openai",
            model=settings.models[0],
            base_url_host=settings.host,
            prompt_version=path.stem,
        )
        self.gate = gate or open_gate(
            config,
            GateSettings(
                rpm=settings.rpm,
                concurrency=settings.concurrency,
                budget_usd=settings.budget_usd,
                max_wait_s=max(900.0, settings.timeout_s),
                stale_s=settings.timeout_s + 120.0,
            ),
        )
        self.client = client or ProviderClient(
            settings.base_url, settings.timeout_s, secrets=[k for _, k in self._keys]
        )
        results = str(config.get("results", "results")).rstrip("/")
        self.results_dir = Path(results)
        self._reachable = False

    # -- choices that hold for the whole run -------------------------------

    def _model(self) -> str:
        for model in self.settings.models:
            if self.gate.recall(f"dead:{model}") is None:
                return model
        reasons = "; ".join(
            f"{m}: {self.gate.recall(f'dead:{m}')}" for m in self.settings.models
        )
        message = (
            f"no configured model is available at {self.settings.host} ({reasons}); "
            "check openai.model and openai.fallback_models (the model must exist "
            "and accept images)"
        )
        self.gate.close("config", message)
        raise ConfigError(message)

    def _format(self, model: str) -> str:
        return self.gate.recall(f"format:{model}") or self.settings.response_format

    def _key(self) -> tuple[str | None, str | None]:
        if not self._keys:
            return None, None
        names = [name for name, _ in self._keys]
        usable = self.gate.usable_keys(names)
        if usable:
            return usable[0], dict(self._keys)[usable[0]]
        benched = self.gate.benched_keys(names)
        reasons = "; ".join(f"{n}: {b['reason']}" for n, b in benched.items())
        kinds = [str(b.get("kind", "quota")) for b in benched.values()]
        kind = kinds[-1] if kinds else "quota"
        message = (
            f"no API key can be used ({reasons}); wait for the quota to reset, "
            "top up the account or fix the key"
        )
        self.gate.close(kind, message)
        raise GateClosedError(message, kind)

    def _check_reachable(self) -> None:
        """Before this process's first request: can this host reach the API?

        One keyless ``GET <base_url>/models`` per host (and per
        :data:`CHECK_MAX_AGE_S`), shared through ``<results>/work/connectivity``
        by every job on the host; see :mod:`herbarium_dwc.connectivity`.
        """
        if self._reachable:
            return
        try:
            check_endpoint_once(
                self.settings.base_url,
                connectivity_dir(self.results_dir),
                timeout=min(self.settings.timeout_s, CHECK_TIMEOUT_S),
                max_age_s=CHECK_MAX_AGE_S,
            )
        except ConfigError as exc:
            # No host can succeed with this URL: stop every process, and let
            # the workflow say why once (report_api_gate).
            self.gate.close("config", str(exc))
            raise
        except TransientError as exc:
            # Only this host is known to be cut off: say so, so that the job
            # can ask a Snakemake on this host to start no more jobs here.
            raise HostUnreachableError(str(exc)) from exc
        self._reachable = True

    # -- one specimen --------------------------------------------------------

    def extract(
        self, specimen_id: str, image: PreparedImage, ocr: OcrResult | None
    ) -> EngineResult:
        """Send one specimen to the provider and read its Darwin Core terms.

        The first call of an engine checks first that this host reaches
        ``openai.base_url`` at all (once per host, see
        :meth:`_check_reachable`), so that a node without network fails every
        specimen at once with one message instead of each after its retries.

        :raises SpecimenError: a permanent failure for this specimen.
        :raises TransientError: the gate is closed, the server is unreachable
            (from the connectivity check or after retries), or 429s did not
            stop; nothing is written, a rerun retries.
        :raises ConfigError: no configured model can be used, or
            ``openai.base_url`` cannot work from this host (scheme, TLS,
            proxy credentials).
        """
        self._check_reachable()
        url = image_data_url(image.data, image.media_type)
        ocr_text = ocr.text if (self.needs_ocr and ocr is not None) else None
        progress = _Progress(max_tokens=self.settings.max_tokens)
        while True:
            model = self._model()
            fmt = self._format(model)
            key_name, key = self._key()
            body = build_request(
                model,
                self.prompt,
                url,
                max_tokens=progress.max_tokens,
                temperature=self.settings.temperature,
                response_format=fmt,
                ocr_text=ocr_text,
                reask=progress.reasked,
                openrouter=self.settings.is_openrouter,
            )
            with self.gate.request(self.run) as waited:
                reply = self.client.send(body, key)
            progress.requests += 1
            cost = cost_usd(reply, model, self.settings.prices)
            progress.add_usage(reply, cost)
            self._account(model, reply, cost)
            self._record_event(
                specimen_id, model, key_name, fmt, reply, cost, waited, progress
            )
            result = self._handle(specimen_id, model, key_name, fmt, reply, progress)
            if result is not None:
                return result

    def _handle(
        self,
        specimen_id: str,
        model: str,
        key_name: str | None,
        fmt: str,
        reply: ChatReply,
        progress: _Progress,
    ) -> EngineResult | None:
        """Act on one reply: return the result, raise, or return None to retry."""
        outcome = reply.outcome
        if outcome is Outcome.ok:
            try:
                answer = read_label_json(reply.content or "")
            except InvalidReply as exc:
                if not progress.reasked:
                    progress.reasked = True
                    return None
                raise self._failure(
                    FailureKind.invalid_json,
                    f"{specimen_id}: {exc} after one re-ask; try another model or "
                    "prompt",
                    progress,
                    reply.content,
                ) from exc
            if answer.repaired:
                progress.flags.append("reply:repaired_json")
            if fmt != "json_schema":
                progress.flags.append(f"reply:response_format_{fmt}")
            return EngineResult(
                verbatim=answer.verbatim,
                confidence=answer.confidence,
                usage=progress.usage(),
                attempts=progress.requests,
                model=model,
                unknown_keys=answer.unknown_keys,
                flags=progress.flags,
            )
        if outcome is Outcome.truncated:
            if not progress.grew_tokens:
                progress.grew_tokens = True
                progress.max_tokens *= 2
                return None
            raise self._failure(
                FailureKind.truncated,
                f"{specimen_id}: the reply was cut off at max_tokens "
                f"{progress.max_tokens} twice; raise openai.max_tokens or use a "
                "model that answers more briefly",
                progress,
                reply.content,
            )
        if outcome is Outcome.empty_response:
            if not progress.retried_empty:
                progress.retried_empty = True
                return None
            raise self._failure(
                FailureKind.empty_response,
                f"{specimen_id}: the model answered with no content twice (a "
                "reasoning model may spend max_tokens on thinking); raise "
                "openai.max_tokens or choose a non-reasoning model",
                progress,
                reply.reasoning or reply.content,
            )
        if outcome is Outcome.refused:
            raise self._failure(
                FailureKind.refused,
                f"{specimen_id}: the model refused to read this sheet; check the "
                "image, or try another model",
                progress,
                reply.refusal,
            )
        if outcome in RETRIED:
            self._retry_later(specimen_id, reply, progress)
            return None
        if outcome is Outcome.rate_limited:
            progress.rate_limited += 1
            if progress.rate_limited > MAX_RATE_LIMITED:
                raise TransientError(
                    f"{specimen_id}: still rate limited after {MAX_RATE_LIMITED} "
                    "waits; lower openai.rpm or openai.concurrency and run again"
                )
            self.gate.rate_limited(reply.retry_after_s, f"429 for {model}")
            return None
        if outcome in (Outcome.quota, Outcome.credits, Outcome.auth):
            self._bench(key_name, reply)
            return None
        if outcome is Outcome.model_unavailable:
            self.gate.remember(f"dead:{model}", f"HTTP {reply.status}: {reply.message}")
            logger.error("%s is not available: %s", model, reply.message)
            return None
        if outcome is Outcome.format_rejected and fmt != RESPONSE_FORMATS[-1]:
            lower = RESPONSE_FORMATS[RESPONSE_FORMATS.index(fmt) + 1]
            self.gate.remember(f"format:{model}", lower)
            logger.warning(
                "%s rejected response_format %s; using %s for the rest of the run",
                model,
                fmt,
                lower,
            )
            return None
        raise self._failure(
            FailureKind.provider_error,
            f"{specimen_id}: the provider rejected the request (HTTP {reply.status}: "
            f"{reply.message}); check the image and the openai settings",
            progress,
            None,
        )

    def _retry_later(
        self, specimen_id: str, reply: ChatReply, progress: _Progress
    ) -> None:
        progress.failures += 1
        if progress.failures >= self.settings.max_attempts:
            if reply.outcome is Outcome.connect_failed:
                raise TransientError(
                    f"{specimen_id}: cannot reach {self.settings.base_url} "
                    f"({reply.message}); check the network and openai.base_url, then "
                    "run again"
                )
            kind = (
                FailureKind.timeout
                if reply.outcome is Outcome.timeout
                else FailureKind.provider_error
            )
            raise self._failure(
                kind,
                f"{specimen_id}: {progress.failures} attempts failed, the last with "
                f"{reply.outcome} ({reply.message}); herbarium-dwc retry-failed "
                "re-queues it",
                progress,
                None,
            )
        delay = backoff_delay(
            progress.failures, self.settings.backoff_s, self.settings.backoff_max_s
        )
        logger.info("%s: %s; retrying in %.2f s", specimen_id, reply.outcome, delay)
        time.sleep(delay)

    def _bench(self, key_name: str | None, reply: ChatReply) -> None:
        kind = {Outcome.quota: "quota", Outcome.credits: "credits"}.get(
            reply.outcome, "auth"
        )
        what = {
            "quota": "its quota is used up",
            "credits": "its account has no credits left",
            "auth": "the provider refused it",
        }[kind]
        until = None
        if (
            kind == "quota"
            and reply.retry_after_s is not None
            and reply.retry_after_s < MAX_BENCH_S
        ):
            until = time.time() + reply.retry_after_s
        reason = f"{what} (HTTP {reply.status}: {reply.message})"
        if key_name is None:
            message = f"the server refused requests without a key: {reason}"
            self.gate.close(kind, message)
            raise GateClosedError(message, kind)
        self.gate.bench_key(key_name, until, reason, kind)

    def _failure(
        self,
        kind: FailureKind,
        message: str,
        progress: _Progress,
        reply_text: str | None,
    ) -> SpecimenError:
        usage = progress.usage().model_dump()
        return SpecimenError(
            kind,
            message,
            attempts=progress.requests,
            reply=(reply_text or None) and reply_text[:REPLY_KEPT_CHARS],
            usage=usage if any(v is not None for v in usage.values()) else None,
        )

    # -- accounting ------------------------------------------------------------

    def _account(self, model: str, reply: ChatReply, cost: float | None) -> None:
        if cost:
            self.gate.add_spend(self.run, cost)
        elif (
            cost is None
            and self.settings.budget_usd is not None
            and (reply.prompt_tokens or reply.outcome is Outcome.ok)
        ):
            self.gate.close(
                "config",
                f"openai.budget_usd is set but the cost of {model} is unknown: "
                "the provider reports no usage.cost and openai.prices has no "
                "entry for it; add its prices or unset budget_usd",
            )

    def _record_event(
        self,
        specimen_id: str,
        model: str,
        key_name: str | None,
        fmt: str,
        reply: ChatReply,
        cost: float | None,
        waited: float,
        progress: _Progress,
    ) -> None:
        logger.info(
            "%s: %s attempt %d -> %s (HTTP %s) in %.2f s",
            specimen_id,
            model,
            progress.requests,
            reply.outcome,
            reply.status,
            reply.latency_s,
        )
        append_event(
            self.results_dir,
            run=self.run,
            specimen=specimen_id,
            engine="openai",
            model=model,
            attempt=progress.requests,
            outcome=str(reply.outcome),
            http_status=reply.status,
            latency_s=reply.latency_s,
            waited_s=round(waited, 3),
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            cost_usd=cost,
            key_env=key_name,
            response_format=fmt,
            host=self.settings.host,
        )


def backoff_delay(failures: int, base_s: float, cap_s: float) -> float:
    """Return the wait before retry number ``failures`` (1 for the first).

    Capped exponential with jitter: half of ``min(cap, base * 2**(n-1))``
    fixed, the other half random, so processes that failed together do not
    retry together.

    >>> 1.0 <= backoff_delay(1, 2.0, 60.0) <= 2.0
    True
    """
    ceiling = min(cap_s, base_s * 2.0 ** max(0, failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
