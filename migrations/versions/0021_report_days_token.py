"""data_versions 'report_days': a random token that changes with the day roll-ups the report
pages read, so each process keeps a round's arrays until it changes
(server/services/coverage/rollup_stamp.py); random, so a database made afresh under the same URL
never meets a token a process kept a copy under

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 00:40:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_VERSIONS = sa.table('data_versions', sa.column('name', sa.String), sa.column('version', sa.Integer))


def upgrade():
    conn = op.get_bind()
    token = secrets.randbelow(2**31 - 1) + 1
    if not conn.execute(sa.update(_VERSIONS).where(_VERSIONS.c.name == 'report_days')
                        .values(version=token)).rowcount:
        conn.execute(sa.insert(_VERSIONS).values(name='report_days', version=token))


def downgrade():
    op.execute(sa.delete(_VERSIONS).where(_VERSIONS.c.name == 'report_days'))
