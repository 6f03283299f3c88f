"""The supervisors' coverage map, its vector tiles, statistics, exports and the coverage CLI."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from gis import states as coverage_states
from gis.coverage import counts_of
from server.access import allow
from server.extensions import db
from server.i18n import current_locale, gettext
from server.models import Role, SubmissionAttachment, User, Visit
from server.params import id_arg, page_of
from server.services import scope
from server.services.coverage import exports as coverage_exports
from server.services.coverage import query as coverage_query
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import rounds
from server.services.coverage import source as coverage_source
from server.services.coverage import tables as coverage_tables
from server.services.coverage import tiles as coverage_tiles
from server.web.downloads import send_attachment
from server.web.home import add_home_link

bp = Blueprint("coverage", __name__)
STAFF = (Role.SUPERVISOR, Role.ADMIN)
MVT = "application/vnd.mapbox-vector-tile"


def state_labels() -> dict[str, str]:
    """State key -> name in the request's language, from the one table in gis/states.py."""
    return coverage_states.names(current_locale())


def state_table() -> list[dict[str, str]]:
    """The coverage states (key, colour, name, meaning) for legends and the map's JavaScript."""
    return coverage_states.for_client(current_locale())


def request_filters(round_id: int | None = None) -> coverage_query.Filters:
    """The map's filters from the query string, within the user's scope (FilterError: 404)."""
    return coverage_query.filters(
        current_user,
        round_id=round_id if round_id is not None else id_arg("round"),
        village=request.args.get("village") or None,
        street=request.args.get("street") or None,
        coordinator_name=request.args.get("coordinator") or None,
        state=request.args.get("state") or None,
        mine=request.args.get("mine") in ("1", "true"),
        compare_id=id_arg("compare"),
    )


def round_choice(f: coverage_query.Filters | None) -> dict:
    """What every coverage page shows about rounds: the rounds to pick from (the user's,
    newest first), the comparison, targets, and the visits that fall outside every round."""
    rnd = f.round if f is not None else None
    cfg = current_app.config
    return {
        "round": rnd,
        "rounds": rounds.visible_rounds(current_user),
        "compare": f.compare if f is not None else None,
        "outside": rounds.outside(current_user),
        "round_status": rounds.status_label,
        "target": (rnd.update_rate_target if rnd is not None and rnd.update_rate_target
                   else cfg["ENTRY_RATE_TARGET"]),
        "accuracy_target": (rnd.accuracy_target if rnd is not None and rnd.accuracy_target
                            else 1.0),
    }


@bp.route("/coverage/")
@allow(*STAFF)
def map_page():
    f = request_filters() if rounds.spans() else None
    villages, streets = _filter_areas(scope.street_codes(current_user))
    names = set(scope.coordinators_working_in(current_user))
    coordinators = [u for u in db.session.execute(
        sa.select(User.username, User.display_name).where(User.role == Role.COORDINATOR.value)
        .order_by(User.username)) if u.username in names]
    counts = compared = None
    extent = _extent(scope.street_ids(current_user))
    if f is not None:
        counts = coverage_rollups.counts_over(f.round.id, f.streets, f.street_ids)
        if f.compare is not None:
            compared = _compared(f)
    return render_template(
        "coverage/map.html",
        **round_choice(f),
        compared=compared,
        villages=villages,
        streets=streets,
        coordinators=coordinators,
        counts=counts,
        states=state_table(),
        extent=extent,
    )


@dataclass(slots=True)
class _Choice:
    """A village or street of the map's filters (plain rows: a city has ~11,000 of them)."""

    code: str
    name_zh: str
    name_en: str | None
    parent: _Choice | None = None

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name_zh


def _filter_areas(visible: frozenset[str] | None) -> tuple[list[_Choice], list[_Choice]]:
    """(villages, streets) the user sees, in path order, each street knowing its village."""
    rows = coverage_tables.area_rows()  # (id, code, parent_id, level, path, name_zh, name_en)
    villages = {r[0]: _Choice(r[1], r[5], r[6]) for r in rows if r[3] == "village"}
    streets = [_Choice(r[1], r[5], r[6], villages.get(r[2])) for r in rows
               if r[3] == "street" and (visible is None or r[1] in visible)]
    used = {id(s.parent) for s in streets}
    return [v for v in villages.values() if id(v) in used], streets


def _extent(street_ids: frozenset[int] | None) -> str:
    """minlon,minlat,maxlon,maxlat of the buildings the user sees (the map's first view)."""
    shared = coverage_source.shared()
    sel = shared.selection(street_ids)
    box = (sel if sel is not None else shared.source.everything).extent()
    return ",".join(f"{v:.6f}" for v in box) if box is not None else ""


def _compared(f: coverage_query.Filters) -> int:
    """Buildings visited in the comparison round and not yet in the round shown."""
    return len(coverage_query.buildings(f.with_state(None)))


@bp.route("/coverage/stats")
@allow(*STAFF)
def stats_page():
    """Counts of the user's areas a page at a time: everything when it fits one page, else the
    summary rows (township, villages) with a village's streets one click down (`area`); the
    coordinators paged, searched (`q`) and sorted."""
    f = request_filters()
    st = coverage_tables.compute(f.round.id, current_user, within=rounds.streets_of(f.round.id))
    code = request.args.get("area") or None
    root = st.position(code) if code else None
    if code and root is None:
        abort(404, f"no area {code!r} in your areas")
    summary = False
    if root is not None:
        rows = st.area_positions(root, children_only=True)
    else:
        rows = st.area_positions()
        if len(rows) > coverage_tables.PAGE:  # too many to read: streets one click down
            rows, summary = st.area_positions(deepest="village"), True
    area_count = len(rows)
    page, pages, rows = _page_of(rows, "page")
    q = request.args.get("q", "")[:80]
    sort = request.args.get("sort") if request.args.get("sort") in coverage_tables.SORTS \
        else "name"
    descending = request.args.get("desc") == "1"
    people = st.coordinator_positions(q, sort, descending)
    coordinator_count = len(people)
    cpage, cpages, people = _page_of(people, "cpage")
    shown = [st.row(int(k)) for k in rows]
    compare = (coverage_rollups.compare_counts(f.round.id, f.compare.id, f.streets)
               if f.compare is not None else None)
    return render_template(
        "coverage/stats.html",
        **round_choice(f),
        areas=shown,
        root=st.row(root) if root is not None else None,
        trail=st.ancestors(root) if root is not None else [],
        totals=counts_of(st.total), summary=summary,
        area_page=page, area_pages=pages, area_count=area_count,
        states=state_table(),
        coordinators=[st.coordinator(int(k)) for k in people],
        coordinator_page=cpage, coordinator_pages=cpages, coordinator_count=coordinator_count,
        q=q, sort=sort, descending=descending, sort_labels=_sort_labels(),
        compare_counts=compare, stats_link=_stats_link,
    )


def _stats_link(**over) -> str:
    """This statistics page with some query parameters changed (None: dropped)."""
    args = request.args.to_dict()
    for key, value in over.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for("coverage.stats_page", **args)


def _sort_labels() -> list[tuple[str, str]]:
    return [("name", gettext("Username")), ("total", gettext("Total")),
            ("unvisited", coverage_states.names(current_locale())["unvisited"]),
            ("entry_rate", gettext("Entry rate")), ("accuracy_rate", gettext("Accuracy"))]


def _page_of(rows, name: str) -> tuple[int, int, list]:
    return page_of(rows, name, coverage_tables.PAGE)


@bp.route("/tiles/coverage/<int:round_id>/<int:z>/<int:x>/<int:y>.mvt")
@allow(*STAFF)
def tile(round_id: int, z: int, x: int, y: int):
    f = request_filters(round_id)
    if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
        abort(404, f"no tile {z}/{x}/{y}")
    data, etag = coverage_tiles.tile(f.round.id, z, x, y, f.street_ids, f.state,
                                     f.compare.id if f.compare is not None else None)
    resp = Response(data, mimetype=MVT)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "private, no-cache"  # revalidate: coverage changes
    return resp.make_conditional(request)


@bp.route("/coverage/unvisited.<fmt>")
@allow(*STAFF, Role.COORDINATOR)
def export_unvisited(fmt: str):
    if fmt not in coverage_exports.FORMATS:
        abort(404, f"unknown format {fmt!r}")
    f = request_filters()
    who = request.args.get("coordinator") or request.args.get("street") or "all"
    data = coverage_exports.export_unvisited(f, fmt, title=who)
    name = f"unvisited-{who}-round{f.round.id}.{fmt}"
    if f.compare is not None:
        name = f"unvisited-{who}-round{f.round.id}-visited-in-round{f.compare.id}.{fmt}"
    resp = Response(data, content_type=coverage_exports.MIME[fmt])
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.route("/coverage/walklist")
@allow(*STAFF, Role.COORDINATOR)
def walk_list():
    f = request_filters()
    everything = request.args.get("all") in ("1", "true")
    if everything:
        records = coverage_exports.walk_order(
            coverage_exports._records(coverage_query.buildings(f))
        )
    else:
        records = coverage_exports.unvisited(f)
    return render_template(
        "coverage/walklist.html",
        **round_choice(f),
        records=records,
        labels=state_labels(),
        who=request.args.get("coordinator")
        or request.args.get("street")
        or request.args.get("village")
        or "",
        everything=everything,
    )


@bp.route("/coverage/map.png")
@allow(*STAFF)
def map_png():
    code = request.args.get("area") or request.args.get("street") or request.args.get("village")
    if not code:
        abort(400, "name the street or village with ?area=CODE")
    a = coverage_query.area(code)
    args = {"village": code} if a.level != "street" else {"street": code}
    f = coverage_query.filters(current_user, round_id=id_arg("round"), **args)
    title = f"{a.name_zh} {a.code} · {f.round.name}"
    data = coverage_exports.png(f, title, state_labels())
    return Response(data, mimetype="image/png")


@bp.route("/coverage/photo/<int:attachment_id>")
@allow(*STAFF)
def photo(attachment_id: int):

    att = db.session.get(SubmissionAttachment, attachment_id)
    if att is None or att.storage_key is None:
        abort(404)
    visit = db.session.scalar(sa.select(Visit).where(Visit.submission_id == att.submission_id))
    if visit is None or visit.building_id is None:
        abort(404)
    if coverage_query.building_detail(visit.building_id, current_user, None) is None:
        abort(404)
    return send_attachment(att)


def init_app(app: Flask) -> None:

    app.register_blueprint(bp)
    add_home_link(app, "coverage.map_page", "Coverage map")
    add_home_link(app, "coverage.stats_page", "Coverage statistics")
    app.jinja_env.globals.setdefault("coverage_state_labels", state_labels)
