"""Errors raised by herbarium-dwc, in one hierarchy.

HerbariumError                  base of everything below
    ConfigError                 the configuration or the inputs it names are
                                wrong; the run stops before any work
    SpecimenError               a permanent problem with one specimen; it
                                becomes a ``failed`` record and the run goes on
        ImageError              the image cannot be read or is not supported
    TransientError              trouble that a later run may not meet (network
                                down, rate limit, quota); the job fails
                                without writing a record, so a rerun retries it
        GateClosedError         the shared rate gate's stop switch is set
        HostUnreachableError    the API endpoint does not answer from this host

Every message names the input, what was wrong and what to do next.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class FailureKind(StrEnum):
    """The fixed vocabulary of ``failure.kind`` in a specimen record."""

    image_corrupt = "image_corrupt"
    unsupported_format = "unsupported_format"
    ocr_error = "ocr_error"
    invalid_json = "invalid_json"
    truncated = "truncated"
    refused = "refused"
    empty_response = "empty_response"
    provider_error = "provider_error"
    timeout = "timeout"


class HerbariumError(Exception):
    """Base class of every error herbarium-dwc raises on purpose."""


class ConfigError(HerbariumError):
    """The configuration, or an input it names, cannot be used as it is."""


class SpecimenError(HerbariumError):
    """A permanent problem with one specimen.

    :param kind: the failure kind written to the record.
    :param message: what went wrong and what to do about it.
    :param attempts: how many attempts were made before giving up.
    :param reply: the text the engine answered, kept for the record when it
        explains the failure (a refusal, a model's reasoning, invalid JSON).
    :param usage: tokens and cost the failed attempts used, as the keys of
        :class:`herbarium_dwc.record.Usage`, so failed records count in totals.
    :param model: the model that answered last, if not the configured one.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        attempts: int = 1,
        *,
        reply: str | None = None,
        usage: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.attempts = attempts
        self.reply = reply
        self.usage = usage
        self.model = model


class ImageError(SpecimenError):
    """The image file cannot be read, decoded or is of an unsupported type."""


class TransientError(HerbariumError):
    """Trouble that may pass; the specimen stays pending for the next run."""


class GateClosedError(TransientError):
    """The shared rate gate refuses all requests (quota, credit, auth, budget).

    :param kind: why the gate closed: quota, credits, auth, budget or config.
    """

    def __init__(self, message: str, kind: str = "closed") -> None:
        super().__init__(message)
        self.kind = kind


class HostUnreachableError(TransientError):
    """The API endpoint does not answer from this host (connectivity check).

    No job on this host can send a request until the network or the server
    is back; the specimen stays pending for the next run.
    """
