"""Errors in a batch file: they name the file and the field, like study errors."""

from __future__ import annotations

from simfocus.kit.errors import ValidationFailed


class BatchInvalid(ValidationFailed):
    code = "BATCH_INVALID"
