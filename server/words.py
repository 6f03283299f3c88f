"""Stored codes that pages show in words, with `_(code)`: roles, states, the register's lists
and property names. They are data, not literals at the place that shows them, so they are
marked for the catalogue here (pybabel extract reads `N_`); tests/test_i18n.py checks that the
models' codes are all listed."""

from __future__ import annotations

from server.i18n import N_

ROLES = (N_("admin"), N_("designer"), N_("supervisor"), N_("coordinator"))
#: Submission.review_state, Submission.processing_state, Form.state and FormVersion.state.
REVIEW_STATES = (N_("received"), N_("approved"), N_("has_issues"), N_("rejected"))
PROCESSING_STATES = (N_("pending"), N_("done"), N_("error"))
FORM_STATES = (N_("draft"), N_("published"), N_("superseded"), N_("closed"))
#: The register's lists (pages and exports).
DATASETS = (N_("persons"), N_("households"), N_("buildings"), N_("rentals"))
#: The township forms' entity properties, as the register pages name them.
PROPERTIES = (
    N_("full_name"), N_("id_number"), N_("sex"), N_("birth_date"), N_("phone"),
    N_("household"), N_("arrival_date"), N_("status"), N_("street"), N_("outcome"),
    N_("tenure"), N_("units"), N_("relation"), N_("unit"), N_("building"), N_("occupation"),
    N_("origin"), N_("employer"), N_("residence_permit"), N_("flags"), N_("landlord_name"),
    N_("landlord_phone"), N_("floor_area"), N_("room_uses"), N_("person_count"),
    N_("last_visit"), N_("moved_from"), N_("moved_on"), N_("departure_date"),
    N_("destination"), N_("departure_reason"), N_("departed_on"), N_("use"), N_("floors"),
    N_("rented"), N_("building_label"),
)
