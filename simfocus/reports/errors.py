"""Errors of reports, exports and share links."""

from __future__ import annotations

from simfocus.kit.errors import Conflict, NotFound, SimfocusError


class ReportNotFound(NotFound):
    code = "REPORT_NOT_FOUND"


class ReportNotReady(Conflict):
    code = "REPORT_NOT_READY"


class DraftUnreadable(SimfocusError):
    """The model's answer was not JSON of the asked shape."""

    code = "REPORT_UNREADABLE"
    status = 502


class ShareLinkNotFound(NotFound):
    code = "SHARE_LINK_NOT_FOUND"


class ShareLinkGone(SimfocusError):
    """Expired or revoked."""

    code = "SHARE_LINK_GONE"
    status = 410


class SharePasswordRequired(SimfocusError):
    code = "SHARE_PASSWORD_REQUIRED"
    status = 401


class SharePasswordWrong(SimfocusError):
    code = "SHARE_PASSWORD_WRONG"
    status = 403
