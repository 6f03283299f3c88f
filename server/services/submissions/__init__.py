"""Submissions as supervisors see them: listing within scope, review decisions, and exports
(CSV, XLSX, GeoJSON) with personal data masked per role and audited."""

from server.services.submissions.exports import export, get_visible, query, set_review_state

__all__ = ["export", "get_visible", "query", "set_review_state"]
