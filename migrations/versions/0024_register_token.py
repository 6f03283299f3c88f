"""data_versions 'register': a random token that changes whenever the register (records, their
versions, held registrations) is written, so each process keeps a round's versions and held
registrations until it does (server/services/register/stamp.py)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 14:10:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

_VERSIONS = sa.table('data_versions', sa.column('name', sa.String), sa.column('version', sa.Integer))


def upgrade():
    conn = op.get_bind()
    token = secrets.randbelow(2**31 - 1) + 1
    if not conn.execute(sa.update(_VERSIONS).where(_VERSIONS.c.name == 'register')
                        .values(version=token)).rowcount:
        conn.execute(sa.insert(_VERSIONS).values(name='register', version=token))


def downgrade():
    op.execute(sa.delete(_VERSIONS).where(_VERSIONS.c.name == 'register'))
