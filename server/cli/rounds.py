"""`doorstep rounds create|list|edit|close` and `doorstep phases create|list|edit`: plan rounds
and the phases (阶段) they live in from the command line.

The command line acts with every area in scope (like an admin). A change queues the same job
the page does; the command then runs it here (or waits for a running server that took it) and
prints its progress, so the visits and coverage are up to date when it returns.
"""

from __future__ import annotations

import time

import click

from server.cli.appcontext import with_appcontext


def _options(command):
    """The round's fields as options (shared by create and edit)."""
    for decl, kwargs in reversed([
        (("--from", "starts_on"), {"help": "First day (YYYY-MM-DD)."}),
        (("--to", "ends_on"), {"help": "Last day (YYYY-MM-DD)."}),
        (("--area", "areas"), {"multiple": True,
                               "help": "Area code (township, village or street); repeat."}),
        (("--form", "forms"), {"multiple": True,
                               "help": "Form id whose submissions count; repeat (none: all)."}),
        (("--all-forms",), {"is_flag": True, "help": "Every form counts (edit: clear --form)."}),
        (("--phase",), {"help": "Phase name or id (default: the first phase)."}),
        (("--update-target",), {"help": "Update-rate target, e.g. 90 (%)."}),
        (("--accuracy-target",), {"help": "Accuracy target, e.g. 100 (%)."}),
        (("--match-distance",), {"help": "Match distance in metres (default: the setting)."}),
        (("--gps-accuracy",), {"help": "GPS accuracy limit in metres (default: the setting)."}),
    ]):  # fmt: skip
        command = click.option(*decl, **kwargs)(command)
    return command


def _raw(name, starts_on, ends_on, areas, forms, all_forms, phase, update_target,
         accuracy_target, match_distance, gps_accuracy) -> dict:
    """The options given, as round_plans.parse() reads them (targets in %)."""
    raw = {"name": name, "starts_on": starts_on, "ends_on": ends_on,
           "areas": list(areas) or None, "forms": [] if all_forms else (list(forms) or None),
           "phase": phase, "match_distance_m": match_distance, "gps_accuracy_m": gps_accuracy,
           "update_rate_target": f"{update_target}%" if update_target else None,
           "accuracy_target": f"{accuracy_target}%" if accuracy_target else None}  # fmt: skip
    return {k: v for k, v in raw.items() if v is not None}


def _line(r) -> str:
    from server.services.coverage import round_plans

    d = round_plans.describe(r)
    return (f"{d['id']:>4}  {d['name']}  {d['starts_on']} – {d['ends_on']}  {d['status']}  "
            f"areas {', '.join(d['areas']) or 'all'}  forms {', '.join(d['forms']) or 'all'}")


def _follow(job_id: int) -> None:
    """Run the job here, or wait for the server's worker that claimed it; print progress."""
    from server.extensions import db
    from server.models import RoundJob
    from server.services.coverage import rederive

    if rederive.claim(job_id):
        job = rederive.run(job_id)
    else:
        while True:
            db.session.expire_all()
            job = db.session.get(RoundJob, job_id)
            if job.state in ("done", "error"):
                break
            click.echo(f"  {job.message} ({job.done}/{job.total})", err=True)
            time.sleep(1)
    if job.state == "error":
        raise click.ClickException(f"re-deriving visits and coverage failed: {job.message}")
    click.echo(f"  {job.message}")


def _do(action) -> None:
    from server.cli.errors import service_errors

    with service_errors():
        r, job = action()
    click.echo(_line(r))
    _follow(job.id)


@click.group("rounds", help="Rounds (轮次): plan, list, edit and close them.")
def rounds_cli() -> None:
    pass


@rounds_cli.command("create")
@click.argument("name")
@_options
@with_appcontext
def create_command(name, **options) -> None:
    """Create a round NAME (--from and --to are needed)."""
    from server.services.coverage import round_plans

    _do(lambda: round_plans.create_round(None, _raw(name, **options)))


@rounds_cli.command("edit")
@click.argument("round_id", type=int)
@click.option("--name", help="New name.")
@_options
@with_appcontext
def edit_command(round_id: int, name, **options) -> None:
    """Change round ROUND_ID (only the options given)."""
    from server.services.coverage import round_plans

    _do(lambda: round_plans.edit_round(None, round_id, _raw(name, **options)))


@rounds_cli.command("close")
@click.argument("round_id", type=int)
@with_appcontext
def close_command(round_id: int) -> None:
    """Close round ROUND_ID: it ends today (or on its last day) and can no longer change."""
    from server.services.coverage import round_plans

    _do(lambda: round_plans.close_round(None, round_id))


@rounds_cli.command("list")
@with_appcontext
def list_command() -> None:
    """Every round, newest first, and the visits outside every round."""
    from server.services.coverage import rounds

    listed = rounds.visible_rounds(None)
    if not listed:
        click.echo("no rounds yet: `doorstep rounds create NAME --from DAY --to DAY`")
    for r in listed:
        click.echo(_line(r))
    outside = rounds.outside(None)
    if outside["count"]:
        click.echo(f"{outside['count']} visits fall outside any round "
                   f"({outside['first']} – {outside['last']})")


def _phase_line(p, rounds_in: int) -> str:
    from server.services.coverage import phases

    d = phases.describe(p)
    return (f"{d['id']:>4}  {d['name']}  {d['kind'] or 'own targets'}  "
            f"targets {d['update_rate_target'] * 100:g}% / {d['accuracy_target'] * 100:g}%  "
            f"{rounds_in} rounds")


def _phase_raw(kind, update_target, accuracy_target, **named) -> dict:
    """The options given, as phases.create_phase() reads them (targets in %)."""
    raw = {**named, "kind": kind,
           "update_rate_target": f"{update_target}%" if update_target else None,
           "accuracy_target": f"{accuracy_target}%" if accuracy_target else None}
    return {k: v for k, v in raw.items() if v is not None}


def _phase_options(command):
    for decl, kwargs in reversed([
        (("--kind",), {"help": "push (targets 90 % / 100 %) or steady (100 % / 100 %)."}),
        (("--update-target",), {"help": "Update-rate target, e.g. 90 (%): wins over --kind."}),
        (("--accuracy-target",), {"help": "Accuracy target, e.g. 100 (%): wins over --kind."}),
    ]):  # fmt: skip
        command = click.option(*decl, **kwargs)(command)
    return command


@click.group("phases", help="Phases (阶段) rounds live in: create, list and edit them.")
def phases_cli() -> None:
    pass


@phases_cli.command("create")
@click.argument("name")
@_phase_options
@with_appcontext
def phase_create_command(name, **options) -> None:
    """Create a phase NAME (--kind, or both targets, is needed)."""
    from server.cli.errors import service_errors
    from server.services.coverage import phases

    with service_errors():
        p = phases.create_phase(None, _phase_raw(name=name, **options))
    click.echo(_phase_line(p, 0))


@phases_cli.command("edit")
@click.argument("phase_id", type=int)
@click.option("--name", help="New name.")
@_phase_options
@with_appcontext
def phase_edit_command(phase_id: int, name, **options) -> None:
    """Change phase PHASE_ID (only the options given; --kind resets the targets not given).
    Rounds already planned keep their targets."""
    from server.cli.errors import service_errors
    from server.services.coverage import phases

    named = {"name": name} if name is not None else {}
    with service_errors():
        p = phases.edit_phase(None, phase_id, _phase_raw(**named, **options))
    click.echo(_phase_line(p, phases.round_counts().get(p.id, 0)))


@phases_cli.command("list")
@with_appcontext
def phase_list_command() -> None:
    """Every phase with its targets and how many rounds it holds."""
    from server.services.coverage import phases

    counts = phases.round_counts()
    for p in phases.list_phases():
        click.echo(_phase_line(p, counts.get(p.id, 0)))


COMMANDS = (rounds_cli, phases_cli)
