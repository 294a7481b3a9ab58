"""Errors of the accounts domain, with the API codes and statuses the routes return."""

from __future__ import annotations

from simfocus.kit.errors import Conflict, SimfocusError, ValidationFailed


class InvalidCredentials(SimfocusError):
    """Unknown email, wrong password or unusable account: one error, so nothing leaks."""

    code = "INVALID_CREDENTIALS"
    status = 401


class EmailTaken(Conflict):
    code = "EMAIL_ALREADY_EXISTS"

    def __init__(
        self, message: str, *, field: str | None = "email", code: str | None = None
    ) -> None:
        super().__init__(message, field=field, code=code)


class WeakPassword(ValidationFailed):
    code = "WEAK_PASSWORD"

    def __init__(
        self, message: str, *, field: str | None = "password", code: str | None = None
    ) -> None:
        super().__init__(message, field=field, code=code)


class CurrentPasswordInvalid(ValidationFailed):
    """A password change whose ``current_password`` is wrong (422, not 401: the session
    itself is fine, and a 401 would make clients log the user out)."""

    code = "INVALID_CURRENT_PASSWORD"

    def __init__(
        self, message: str, *, field: str | None = "current_password", code: str | None = None
    ) -> None:
        super().__init__(message, field=field, code=code)


class TokenInvalid(SimfocusError):
    """A token that is malformed, forged, of the wrong kind, used, revoked, or whose user
    can no longer sign in."""

    code = "TOKEN_INVALID"
    status = 401


class TokenExpired(TokenInvalid):
    """A well-formed token past its expiry (a subclass: catching TokenInvalid covers it)."""

    code = "TOKEN_EXPIRED"
