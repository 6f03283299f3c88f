"""coverage_counts: buildings per street and state in each round, kept in step with
building_coverage (the roll-ups read it); data_versions: counters that tell every process that
shared data (the buildings) changed

Revision ID: 0017
Revises: 0011
Create Date: 2026-12-12 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'coverage_counts',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('street_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('buildings', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'street_id', 'state'),
    )
    op.create_table(
        'data_versions',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.execute("INSERT INTO data_versions (name, version) VALUES ('buildings', 0)")
    op.execute(
        "INSERT INTO coverage_counts (round_id, street_id, state, buildings) "
        "SELECT c.round_id, coalesce(b.street_id, 0), c.state, count(*) "
        "FROM building_coverage c JOIN buildings b ON b.id = c.building_id "
        "GROUP BY c.round_id, coalesce(b.street_id, 0), c.state"
    )


def downgrade():
    op.drop_table('data_versions')
    op.drop_table('coverage_counts')
