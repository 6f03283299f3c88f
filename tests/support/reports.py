"""A small township whose plan figures are worked out by hand (tests/reports/).

The township of tests/support/rounds.py (T01: streets T01-01 A1..A3 and T01-02 B1..B3; T02:
T02-01 C1..C3; each building expects one household), the round 2016-10-01 – 11-30 in the push
phase (update rate ≥ 90 %, accuracy 100 %), coordinators c1 (village T01) and c2 (T02). The
shipped township forms, sent through ingest and processing as phones send them, on these days:

before the round
  s0  c1 09-20  A3 household H0: p8, p9
2016-10 上旬 (P1, 10-01 … 10-10)
  s1  c1 10-02  A1 household H1: p1, p2                  approved
  s2  c1 10-03  A2 household H2: p3                      approved
  s3  c2 10-05  C1 household H3: p4                      has issues (returned 10-11 09:00)
  s3c c2 (10-05) its correction, arrived 10-12 15:00     approved   (30 h after the return)
  s4  c2 10-06  C2 household H4: p5, 150 m away (far)   not reviewed
  s8  c2 10-08  C3 household H6: p7                      rejected
2016-10 中旬 (P2, 10-11 … 10-20)
  s5  c1 10-14  departure of p2 (no building)            approved
  s6  c1 10-15  A3 household H0 again: p8 confirmed      approved
  s7  c1 10-16  B1 household H5: p6                      has issues
  s9  c2 10-18  C3 household H7 with p3's ID number: held for review (p3 lives in T01)

Every figure the tests expect follows from this table (the test files show the sums).
"""

from __future__ import annotations

import inspect
import uuid as uuidlib
from datetime import datetime
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import sqlalchemy as sa

from forms.idnumber import check_char
from server.extensions import db
from server.models import AuditEvent, Submission, User
from server.services.coverage import rederive, round_plans
from server.services.forms import lifecycle
from server.services.ingest import accept
from server.services.processing import pipeline
from server.services.submissions import exports as review
from tests.support.rounds import build_township, near
from tests.support.township import household, person
from tests.support.xforms import build_instance

ROUND = {"name": "2016 推进", "starts_on": "2016-10-01", "ends_on": "2016-11-30", "areas": ["T"]}


def id_number(n: int) -> str:
    """A resident ID number with a valid check character (region 530122, born 1990-01-01)."""
    first17 = f"53012219900101{n:03d}"
    return first17 + check_char(first17)


class Scenario:
    """Builds the township, sends the submissions, records the reviews."""

    def __init__(self, make_user):
        self.forms = {v.form.xml_form_id: v for v in lifecycle.publish_township()}
        db.session.commit()
        self.centres = build_township()
        self.c1 = make_user("coordinator", username="c1", areas=["T01"])
        self.c2 = make_user("coordinator", username="c2", areas=["T02"])
        self.c1.display_name, self.c2.display_name = "协管员甲", "协管员乙"
        self.boss = make_user("supervisor", username="boss", areas=["T"])
        db.session.commit()
        self.round, _job = round_plans.create_round(None, dict(ROUND))
        rederive.run_pending()
        self.subs: dict[str, Submission] = {}
        self.ids = {n: id_number(n) for n in range(1, 10)}
        self.uuids: dict[str, str] = {}

    def uuid(self, name: str) -> str:
        return self.uuids.setdefault(name, str(uuidlib.uuid4()))

    # --- sending -----------------------------------------------------------------------------

    def send(self, name: str, who: User, form: str, values: dict, day: str, *,
             received: str | None = None, replaces: str | None = None,
             process: bool = True) -> Submission:
        """Ingest and process one submission (left pending with `process=False`); `received`
        (UTC) is when it arrived."""
        values = {**values, "start": f"{day}T10:00:00+08:00"}
        xml = build_instance(self.forms[form].xform, values)
        if replaces is not None:
            xml = _with_deprecated_id(xml, self.subs[replaces].instance_id)
        result = accept.ingest(who, xml, [])
        assert result.status == 201, result.message
        sub_id = result.submission.id
        db.session.execute(sa.update(Submission).where(Submission.id == sub_id).values(
            received_at=datetime.fromisoformat(received or f"{day}T02:00:00")))
        db.session.commit()
        if process:
            assert pipeline.process_one(sub_id) == "done"
        self.subs[name] = db.session.get(Submission, sub_id)
        return self.subs[name]

    def home(self, name: str, who: User, building: str, street: str, people: list[tuple],
             day: str, *, new: bool = True, east: float = 0.0, **kw) -> Submission:
        """A household form at a building; people: (person key, id number index, new?)."""
        hid = self.uuid(f"H:{name}")
        members = [
            person(self.uuid(key), self.ids[n], hid, create=fresh, base="" if fresh else "1",
                   name=f"住户{n}")
            for key, n, fresh in people
        ]
        values = household(hid, building, street, members, new=new, base="" if new else "1")
        lon, lat, acc = near(self.centres, building, east=east)
        values["visit_location"] = f"{lat} {lon} 1890 {acc}"
        return self.send(kw.pop("as_", name), who, "household", values, day, **kw)

    def review(self, name: str, state: str, at: str | None = None) -> None:
        """A supervisor's decision (with a reason where the review service asks for one);
        `at` (UTC) dates its audit event."""
        sub = self.subs[name]
        params = inspect.signature(review.set_review_state).parameters
        extra = {"reason": "other", "comment": "核对"} if "reason" in params else {}
        review.set_review_state(self.boss, sub, state, **extra)
        if at is not None:
            event = db.session.scalar(sa.select(AuditEvent).where(
                AuditEvent.action == "submission.review",
                AuditEvent.object_id == str(sub.id)).order_by(AuditEvent.id.desc()).limit(1))
            event.at = datetime.fromisoformat(at)
            db.session.commit()

    # --- the table of the module docstring ---------------------------------------------------

    def run(self) -> Scenario:
        c1, c2 = self.c1, self.c2
        self.home("s0", c1, "A3", "T01-01", [("p8", 8, True), ("p9", 9, True)], "2016-09-20",
                  as_="s0")
        self.home("s1", c1, "A1", "T01-01", [("p1", 1, True), ("p2", 2, True)], "2016-10-02")
        self.home("s2", c1, "A2", "T01-01", [("p3", 3, True)], "2016-10-03")
        self.home("s3", c2, "C1", "T02-01", [("p4", 4, True)], "2016-10-05")
        self.home("s4", c2, "C2", "T02-01", [("p5", 5, True)], "2016-10-06", east=150.0)
        self.home("s8", c2, "C3", "T02-01", [("p7", 7, True)], "2016-10-08")
        self.review("s1", "approved")
        self.review("s2", "approved")
        self.review("s3", "has_issues", at="2016-10-11T01:00:00")
        self.review("s8", "rejected")
        # The correction keeps the original's start (its day), and arrives 30 h after the return.
        self.home("s3", c2, "C1", "T02-01", [("p4", 4, True)], "2016-10-05", as_="s3c",
                  received="2016-10-12T07:00:00", replaces="s3")
        self.send("s5", c1, "departure", {
            "street": "T01-01", "household": self.uuid("H:s1"), "person": self.uuid("p2"),
            "person_label": "住户2", "departure_date": "2016-10-14", "destination": "成都",
            "reason": "work", "source": "landlord", "status": "departed", "visit_location": "",
            "__entity": {"update": "1", "id": self.uuid("p2"), "baseVersion": "1"},
        }, "2016-10-14")
        self.uuids["H:s6"] = self.uuid("H:s0")  # the same household, visited again
        self.home("s6", c1, "A3", "T01-01", [("p8", 8, False)], "2016-10-15", new=False)
        self.home("s7", c1, "B1", "T01-02", [("p6", 6, True)], "2016-10-16")
        self.home("s9", c2, "C3", "T02-01", [("p10", 3, True)], "2016-10-18")
        for name in ("s3c", "s5", "s6"):
            self.review(name, "approved")
        self.review("s7", "has_issues")
        return self


def _with_deprecated_id(xml: bytes, replaced: str) -> bytes:
    """The instance as an edit: meta/deprecatedID names the submission it replaces."""
    root = ET.fromstring(xml)
    meta = next(el for el in root if el.tag.rsplit("}", 1)[-1] == "meta")
    ET.SubElement(meta, "deprecatedID").text = replaced
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# --- reading what the page, the workbook and the PDF show -------------------------------------


class _Tables(HTMLParser):
    """Every table with an id: its rows as (the row's attributes, the cells' text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append((attrs, []))
        elif tag in ("td", "th") and self._table and self.tables[self._table]:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1][1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[tuple[dict, list[str]]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def rows_by(html: str, table: str, attr: str) -> dict[str, list[str]]:
    """A table's rows keyed by one of their attributes (data-code, data-metric …)."""
    return {a[attr]: cells for a, cells in tables(html)[table] if attr in a}
