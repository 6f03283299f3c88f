"""The register: entities (buildings, households, persons) created and updated by submissions
(entities), and the residence rules for persons (residence)."""

from server.services.register import stamp  # noqa: F401 (every register write noted: its token)
from server.services.register.entities import apply_submission, history, query_entities, visible_to

__all__ = ["apply_submission", "history", "query_entities", "visible_to"]
