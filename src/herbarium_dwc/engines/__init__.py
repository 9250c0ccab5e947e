"""Extraction engines: a prepared image (and OCR text) in, verbatim DwC out.

Every engine follows :class:`Engine`. An engine raises
:class:`~herbarium_dwc.errors.SpecimenError` for a permanent problem with one
specimen (a ``failed`` record is written), :class:`TransientError` when a
later run may succeed (no record is written) and :class:`ConfigError` when no
specimen can succeed with the current settings (the run stops).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from herbarium_dwc.errors import ConfigError
from herbarium_dwc.images import PreparedImage
from herbarium_dwc.record import EngineInfo, OcrResult, Usage


@dataclass
class EngineResult:
    """What an engine read from one specimen.

    :param verbatim: Darwin Core term to the value as the engine gave it.
    :param confidence: term to a 0-1 confidence, where the engine gives one.
    :param model: the model that answered (may be a fallback model).
    :param unknown_keys: keys the engine returned that are not DwC terms.
    :param flags: ``term:reason`` notes the engine made about its reading.
    """

    verbatim: dict[str, str]
    confidence: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    attempts: int = 1
    model: str | None = None
    unknown_keys: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


class Engine(Protocol):
    """What the extraction step needs from an engine."""

    info: EngineInfo
    needs_ocr: bool

    def extract(
        self, specimen_id: str, image: PreparedImage, ocr: OcrResult | None
    ) -> EngineResult:
        """Read the Darwin Core terms of one specimen."""
        ...


def build_engine(config: dict[str, Any], *, prompt_path: str | None = None) -> Engine:
    """Create the engine the workflow config names.

    :param config: the validated workflow config.
    :param prompt_path: the prompt file of an API engine (the workflow passes
        the one under its config/prompts); None finds it from the config.
    :raises ConfigError: the engine name is unknown, or its settings, prompt
        or keys cannot be used.

    >>> engine = build_engine({"engine": "offline"})
    """
    name = config.get("engine", "offline")
    if name == "offline":
        from herbarium_dwc.engines.offline import OfflineEngine
        from herbarium_dwc.labelparse import ParseSettings

        offline = config.get("offline", {})
        return OfflineEngine(
            ParseSettings(
                region_countries=tuple(
                    offline.get("region_countries", ParseSettings.region_countries)
                ),
                min_confidence=float(
                    offline.get("min_ocr_confidence", ParseSettings.min_confidence)
                ),
            )
        )
    if name == "noop":
        from herbarium_dwc.engines.offline import NoopEngine

        return NoopEngine(float(config.get("noop", {}).get("delay_s", 0.0)))
    if name == "openai":
        from herbarium_dwc.engines.openai import OpenAIEngine

        return OpenAIEngine(config, prompt_path=prompt_path or None)
    raise ConfigError(f"engine: {name!r} is unknown; use offline, openai or noop")
