"""Secrets never reach the logs: device and draft tokens in URLs are masked in every record.

A token in `/o/<token>/…` or `/o/draft/<token>/…` is the whole credential of a phone or a test
link, and paths are what exception logs print ("Exception on /o/<token>/submission [POST]").
A log-record factory cleans the message and the traceback of every record as it is made,
whichever logger or handler then prints it (Granian's too: it logs through Python's logging,
and `serve` leaves its access log off).
"""

from __future__ import annotations

import logging
import re

# Any path segment after /o/ or /o/draft/ except the fixed names served under the HTTP Basic
# base (/o/formList, /o/forms/…, /o/submission).
_TOKEN_IN_PATH = re.compile(
    r"(/o/(?:draft/)?)(?!(?:formList|forms|submission|draft)(?:[/?#\s'\"]|$))"
    r"[A-Za-z0-9_\-]{8,}")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(lambda m: m.group(1) + REDACTED, text)


def clean(record: logging.LogRecord) -> None:
    """Redact a record's message and traceback in place."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: logging reports it when it is emitted
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)


def install() -> None:
    """Wrap the process's log-record factory once (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_tokens", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        clean(record)
        return record

    factory.redacts_tokens = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
