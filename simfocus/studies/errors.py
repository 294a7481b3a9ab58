"""Errors in a study file: they name the file and the field."""

from __future__ import annotations

from simfocus.kit.errors import ValidationFailed


class StudyInvalid(ValidationFailed):
    code = "STUDY_INVALID"
