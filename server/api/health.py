"""GET /api/v1/health: the database answers, and how far processing lags behind ingest.

Public like /healthz (a load balancer or a monitor asks without logging in): it shows counts and
an age, never a submission or a person.
"""

from __future__ import annotations

from flask import current_app, jsonify
from sqlalchemy.exc import DBAPIError

from server.access import PUBLIC, allow
from server.api import bp, document
from server.api.openapi import json_body
from server.extensions import db
from server.services.processing import queue


@bp.get("/health")
@allow(PUBLIC)
@document("Health: the database answers; the processing backlog (submissions stored but not "
          "yet processed, the oldest one's age in seconds, those whose processing failed); "
          "this process's worker and how many submissions it processed since it started.",
          responses={
              "200": json_body("the database answers", {
                  "type": "object", "required": ["status", "processing", "worker"],
                  "properties": {
                      "status": {"const": "ok"},
                      "processing": {"type": "object", "properties": {
                          "pending": {"type": "integer"}, "errors": {"type": "integer"},
                          "oldest_pending_age_s": {"type": ["number", "null"]}}},
                      "worker": {"type": "object", "properties": {
                          "running": {"type": "boolean"}, "processed": {"type": "integer"}}}}}),
              "503": json_body("the database does not answer", {
                  "type": "object", "required": ["status"],
                  "properties": {"status": {"const": "database unavailable"}}})})
def health():
    worker = current_app.extensions.get("doorstep.worker")
    try:
        backlog = queue.backlog().as_dict()
    except DBAPIError:
        db.session.rollback()
        current_app.logger.exception("health: the database does not answer")
        return jsonify(status="database unavailable"), 503
    return jsonify(
        status="ok",
        processing=backlog,
        worker={"running": worker is not None and worker.thread.is_alive(),
                "processed": worker.processed if worker is not None else 0},
    )
