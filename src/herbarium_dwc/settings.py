"""Reading the workflow configuration: run names and per-stage settings.

The Snakefile validates the config against config/schema.yaml (which fills
defaults); the functions here turn the validated mapping into the settings
objects the stages take, so the workflow and the CLI agree on them.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from herbarium_dwc.images import PrepareSettings

# The offline engine's parser version: bump it when labelparse changes what it
# returns, so results of the new parser land in a new run folder.
OFFLINE_PARSER_VERSION = "parser-v1"

# Short names for vision models on OpenRouter; openai.presets in the config
# adds more or overrides these.
DEFAULT_PRESETS: dict[str, str] = {
    "qwen-vl-72b-free": "qwen/qwen-2.5-vl-72b-instruct:free",
    "gemini-flash": "google/gemini-2.0-flash-001",
    "gpt-4o-mini": "openai/gpt-4o-mini",
    "gpt-4o": "openai/gpt-4o",
    "claude-sonnet": "anthropic/claude-3.5-sonnet",
}

# Engines that call a remote API; their extraction needs the network.
API_ENGINES = frozenset({"openai"})

_SLUG = re.compile(r"[^A-Za-z0-9.]+")


def slug(text: str) -> str:
    """Lower-case ``text`` and keep only letters, digits and dots, joined by -."""
    return _SLUG.sub("-", text.lower()).strip("-")


def engine_model(config: dict[str, Any]) -> str:
    """Return the model name the configured engine uses."""
    engine = config.get("engine", "offline")
    if engine == "offline":
        return "rapidocr"
    if engine == "noop":
        return "noop"
    section = config.get("openai") or {}
    model = str(section.get("model", ""))
    # A preset and the model id it names are the same run.
    presets = {**DEFAULT_PRESETS, **(section.get("presets") or {})}
    return str(presets.get(model, model))


def prompt_version(config: dict[str, Any]) -> str:
    """Return the prompt (or parser) version that shapes the engine's answers."""
    engine = config.get("engine", "offline")
    if engine == "openai":
        prompt = str((config.get("openai") or {}).get("prompt") or "dwc-v1")
        return (
            PurePath(prompt).stem if prompt.endswith(".txt") else PurePath(prompt).name
        )
    if engine == "noop":
        return "none"
    return OFFLINE_PARSER_VERSION


def run_id(config: dict[str, Any]) -> str:
    """Name the results folder after the settings that change results.

    Engine, model and prompt version make the name, so changing the model
    starts a new folder while rerunning the same settings fills in the
    missing specimens of the old one. ``run_name`` in the config overrides it.

    >>> run_id({"engine": "offline"})
    'offline-rapidocr-parser-v1'
    """
    if config.get("run_name"):
        return slug(str(config["run_name"]))
    parts = [
        config.get("engine", "offline"),
        engine_model(config),
        prompt_version(config),
    ]
    return "-".join(slug(str(part)) for part in parts if part)


def prepare_settings(config: dict[str, Any]) -> PrepareSettings:
    """Return the image budget for the configured engine.

    The offline engine reads small label text, so it gets its own long edge
    (``offline.max_edge``); API engines get ``prepare.max_edge``.
    """
    prepare = config.get("prepare", {})
    max_edge = int(prepare.get("max_edge", 2048))
    if config.get("engine", "offline") == "offline":
        max_edge = int(config.get("offline", {}).get("max_edge", max_edge))
    defaults = PrepareSettings()
    quality = int(prepare.get("quality", defaults.quality))
    return PrepareSettings(
        max_edge=max_edge,
        max_bytes=int(prepare.get("max_bytes", defaults.max_bytes)),
        quality=quality,
        min_quality=min(quality, int(prepare.get("min_quality", defaults.min_quality))),
        max_pixels=int(prepare.get("max_pixels", defaults.max_pixels)),
    )


def is_api_engine(config: dict[str, Any]) -> bool:
    """True when the configured engine sends requests to a remote API."""
    return config.get("engine", "offline") in API_ENGINES


def extraction_runs_locally(config: dict[str, Any]) -> bool:
    """Whether ``extract_specimen`` runs on the submitting host under a cluster
    executor.

    API extraction needs the network, and compute nodes often have none, so by
    default it stays on the host that runs Snakemake (a local rule) while
    preparation and OCR go to the cluster. ``api_on_cluster: true`` sends it
    to the cluster too, for sites whose nodes can reach the provider. Engines
    that need no network always run where the other per-specimen jobs run.

    >>> extraction_runs_locally({"engine": "openai"})
    True
    >>> extraction_runs_locally({"engine": "openai", "api_on_cluster": True})
    False
    >>> extraction_runs_locally({"engine": "offline"})
    False
    """
    return is_api_engine(config) and not bool(config.get("api_on_cluster", False))


def needs_ocr(config: dict[str, Any]) -> bool:
    """True when extraction reads OCR text (offline engine, or send_ocr_text)."""
    engine = config.get("engine", "offline")
    if engine == "offline":
        return True
    if engine == "openai":
        return bool(config.get("openai", {}).get("send_ocr_text", False))
    return False
