"""coverage_day_moves, report_day_moves: the moves of the day roll-ups (coverage_day_counts,
report_day_counts), numbered in commit order, so each process moves what it kept from them by
the new rows instead of reading a round again after every processing batch
(server/services/coverage/move_feed.py); data_versions under each table's name: a random
epoch, new whenever old rows are pruned

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


_COUNTS = ('visits', 'suspect_visits', 'street_round', 'street_xun', 'street_week',
           'person_round', 'person_xun', 'person_week', 'approved', 'reviewed')
_FEEDS = ('coverage_day_moves', 'report_day_moves')


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
    op.create_table(
        'report_day_moves',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=True),
        sa.Column('street_id', sa.Integer(), nullable=True),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.PrimaryKeyConstraint('id'),
    )
    conn = op.get_bind()
    for name in _FEEDS:
        conn.execute(sa.delete(_VERSIONS).where(_VERSIONS.c.name == name))
        conn.execute(sa.insert(_VERSIONS).values(name=name,
                                                 version=secrets.randbelow(2**31 - 1) + 1))


def downgrade():
    for name in _FEEDS:
        op.execute(sa.delete(_VERSIONS).where(_VERSIONS.c.name == name))
        op.drop_table(name)
