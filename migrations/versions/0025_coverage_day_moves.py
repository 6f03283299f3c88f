"""coverage_day_moves: the moves of coverage_day_counts, numbered in commit order, so each
process moves its kept day counts by the new rows instead of reading a round's counts again
after every processing batch (server/services/coverage/day_moves.py); data_versions
'coverage_day_moves': a random epoch, new whenever old rows are pruned

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 17:45:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_VERSIONS = sa.table('data_versions', sa.column('name', sa.String), sa.column('version', sa.Integer))


def upgrade():
    op.create_table(
        'coverage_day_moves',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=True),
        sa.Column('street_id', sa.Integer(), nullable=True),
        sa.Column('day', sa.Date(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=True),
        sa.Column('buildings', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    conn = op.get_bind()
    conn.execute(sa.delete(_VERSIONS).where(_VERSIONS.c.name == 'coverage_day_moves'))
    conn.execute(sa.insert(_VERSIONS).values(name='coverage_day_moves',
                                             version=secrets.randbelow(2**31 - 1) + 1))


def downgrade():
    op.execute(sa.delete(_VERSIONS).where(_VERSIONS.c.name == 'coverage_day_moves'))
    op.drop_table('coverage_day_moves')
