"""A refused command: one line on stderr and exit status 1, like any other click error.

Services refuse in one way (server.services.errors.ServiceError), so commands wrap their service
calls in `service_errors()` instead of catching each error class. The command line speaks
English, as its help does, whatever the server's default locale.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click


@contextmanager
def service_errors(prefix: str = "") -> Iterator[None]:
    """Turn a ServiceError into click.ClickException(prefix + message); also a decorator."""
    from server.extensions import db
    from server.services.errors import ServiceError

    try:
        yield
    except ServiceError as err:
        db.session.rollback()  # a refused command writes nothing
        raise click.ClickException(prefix + " ".join(str(err).split())) from err
