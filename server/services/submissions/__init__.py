"""Submissions as supervisors see them: listing within scope and exports (CSV, XLSX, GeoJSON)
with personal data masked per role and audited (`exports`); review decisions with their
reasons and the way back to the field for a correction (`review`)."""
