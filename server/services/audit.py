from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from server.extensions import db
from server.models import AuditEvent, User


def record(
    action: str,
    *,
    user: User | None = None,
    object_type: str = "",
    object_id: str | int = "",
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session; it commits with the work it describes."""
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    event = AuditEvent(
        user_id=user.id if user is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
        remote_addr=(request.remote_addr or "") if has_request_context() else "",
    )
    db.session.add(event)
    return event
