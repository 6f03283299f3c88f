"""The supervisors' coverage map, its vector tiles, statistics, exports and the coverage CLI."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    render_template,
    request,
)
from flask_login import current_user

from gis import states as coverage_states
from server.access import allow
from server.extensions import db
from server.i18n import current_locale
from server.models import Area, Role, SubmissionAttachment, User, Visit
from server.params import id_arg
from server.services import scope
from server.services.coverage import exports as coverage_exports
from server.services.coverage import query as coverage_query
from server.services.coverage import rollups as coverage_rollups
from server.services.coverage import rounds
from server.services.coverage import source as coverage_source
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
    visible = scope.street_codes(current_user)
    areas = db.session.scalars(
        sa.select(Area).where(Area.level.in_(("village", "street"))).order_by(Area.path)
    ).all()
    streets = [a for a in areas if a.level == "street" and (visible is None or a.code in visible)]
    parents = {s.parent_id for s in streets}  # (was villages x streets: 7 s at 1M buildings)
    villages = [a for a in areas if a.level == "village" and a.id in parents]
    names = scope.coordinators_working_in(current_user)
    coordinators = db.session.scalars(
        sa.select(User).where(User.username.in_(names)).order_by(User.username)
    ).all()
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
    f = request_filters()
    r = coverage_rollups.rollups(f.round.id, current_user, within=rounds.streets_of(f.round.id))
    areas = [a for a in db.session.scalars(sa.select(Area).order_by(Area.path))
             if a.code in r["areas"]]
    compare = (coverage_rollups.compare_counts(f.round.id, f.compare.id, f.streets)
               if f.compare is not None else None)
    return render_template(
        "coverage/stats.html",
        **round_choice(f),
        areas=areas,
        rollup=r,
        states=state_table(),
        coordinators=sorted(r["coordinators"].items()),
        compare_counts=compare,
    )


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
