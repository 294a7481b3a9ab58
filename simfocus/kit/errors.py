"""The root of simFocus's error tree.

Every error carries an API ``code``, an HTTP ``status`` and optionally the offending
``field``. Errors cross Ray actor boundaries, so they must pickle from plain args:
subclasses keep the ``(message, ...)`` constructor shape and store nothing else.
"""

from __future__ import annotations


class SimfocusError(Exception):
    code: str = "INTERNAL_ERROR"
    status: int = 500

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only args do not survive the default pickling of exceptions; extra
        # attributes of subclasses (plain values only) travel as the instance state.
        return (_rebuild_error, (type(self), self.message, self.field, self.code), self.__dict__)

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


def _rebuild_error(
    cls: type[SimfocusError], message: str, field: str | None, code: str
) -> SimfocusError:
    error = cls.__new__(cls)
    SimfocusError.__init__(error, message, field=field, code=code)
    return error


class ValidationFailed(SimfocusError):
    code = "VALIDATION_ERROR"
    status = 422


class NotFound(SimfocusError):
    code = "NOT_FOUND"
    status = 404


class Conflict(SimfocusError):
    code = "CONFLICT"
    status = 409
