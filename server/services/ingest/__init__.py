"""Ingest: a submission made durable (XML, attachments, row) before anyone hears "201".

Request threads parse and check (accept), one committer per process writes batches (group_commit,
batch). Processing comes later: server.services.processing.
"""

from server.services.ingest.accept import (
    NEW_SUBMISSION,
    IngestError,
    IngestResult,
    Upload,
    find_form_version,
    ingest,
)

__all__ = ["NEW_SUBMISSION", "IngestError", "IngestResult", "Upload", "find_form_version",
           "ingest"]
