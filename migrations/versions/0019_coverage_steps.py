"""coverage_steps, coverage_day_counts: each building's coverage state by day in a round, and
per street and day the buildings entering and leaving each state (the reports read the states
as of a period's end from them); filled here from the stored visits

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 04:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'coverage_steps',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('building_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('was', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'building_id', 'day'),
    )
    op.create_table(
        'coverage_day_counts',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('street_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('buildings', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'street_id', 'day', 'state'),
    )
    # The state rule lives in Python (gis.coverage): the service replays each round's visits.
    from server.services.coverage import timeline

    conn = op.get_bind()
    for (round_id,) in conn.execute(sa.text("SELECT id FROM rounds ORDER BY id")).all():
        timeline.rebuild(round_id, conn)


def downgrade():
    op.drop_table('coverage_day_counts')
    op.drop_table('coverage_steps')
