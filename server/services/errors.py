"""One error type for every request a service refuses, so each surface answers it one way.

A ServiceError carries what every answer needs: the HTTP status, a stable short code for
programs, and the message as an English template with named parameters. The Chinese text comes
from the translation catalogue (server/translations/zh_CN/<feature>.json, keyed by the template),
so a page, the JSON API and an OpenRosa answer say the same thing in the reader's language.

Services raise subclasses with meaningful names (FilterError, IngestError, UserError …); views
do not catch them one by one: the handlers registered by server.web (pages), server.api (JSON)
and server.openrosa (OpenRosaResponse XML) answer them, and server.cli.errors turns them into
one line on the command line.
"""

from __future__ import annotations

import logging
from typing import Any

from server.i18n import translate

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A refused request: `status` (HTTP), `code` (stable, short), `message` (English template)
    and its `params`. str() is the English text, `localized()` the reader's."""

    status: int = 400
    code: str = "refused"

    def __init__(
        self, message: str, /, *, status: int | None = None, code: str | None = None,
        **params: Any,
    ) -> None:
        self.message = message
        self.params = params
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        super().__init__(self.english())

    def english(self) -> str:
        """The message with its parameters filled in, as logs and the command line show it."""
        return self.message.format(**self.params) if self.params else self.message

    def localized(self, locale: str | None = None) -> str:
        """The message in `locale` (default: the request's, Chinese unless asked otherwise)."""
        return translate(self.message, locale, **self.params)

    def payload(self) -> dict[str, Any]:
        """The JSON API's body, the same shape as for any other HTTP error."""
        return {"error": self.code, "message": self.localized(), "status": self.status}


def log_server_fault(err: ServiceError) -> None:
    """A 500 is the server's fault (a damaged store …), not the request's: log its traceback,
    as an unhandled exception would have been. (A 503 is load or an outage, not a fault; a 507,
    a full disk, is the operator's to fix: one line each.)"""
    if err.status == 507:  # the cause's first line: not the statement and its parameters
        cause = str(err.__cause__ or "").strip().splitlines()
        log.warning("%s: %s (%s)", err.code, err, cause[0] if cause else "")
    elif err.status >= 500 and err.status != 503:
        log.error("%s: %s", err.code, err, exc_info=err)
