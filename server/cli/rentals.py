"""`doorstep rentals rebuild`: re-derive the rental-housing register from the register."""

from __future__ import annotations

import click

from server.cli.appcontext import with_appcontext


@click.group("rentals", help="The rental-housing register (出租房屋台账).")
def rentals_cli() -> None:
    pass


@rentals_cli.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Re-derive every rented unit, landlord and inspection from the register's households
    (after MIN_FLOOR_AREA_PER_TENANT_M2 or the rules change); rectifications are kept."""
    from server.services.rentals import derive

    done = derive.rebuild()
    click.echo(f"rental register rebuilt: {done.units} units, {done.landlords} landlords, "
               f"{done.violations} violations")


COMMANDS = (rentals_cli,)
