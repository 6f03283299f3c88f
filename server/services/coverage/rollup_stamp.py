"""A token that changes whenever the day roll-ups the report pages read change
(`report_day_counts`, report_days.py; `coverage_day_counts`, timeline.py), so each process keeps
a round's arrays read from them until it does: at 200,000 buildings reading them again was two
thirds of a report page (tests/bench/RESULTS.md, "Report pages at a million buildings"). How
the token is kept and written: server/services/stamps.py.
"""

from __future__ import annotations

from server.services.stamps import Stamp

NAME = "report_days"
STAMP = Stamp(NAME)

note_changed = STAMP.note_changed
write_token = STAMP.write_token
kept = STAMP.kept
