"""coverage_changes: the buildings whose state changed, numbered in commit order (every process
patches its states array from it); data_versions 'coverage_changes' holds the number up to which
old rows were pruned

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 01:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'coverage_changes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('building_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.execute("INSERT INTO data_versions (name, version) VALUES ('coverage_changes', 0)")


def downgrade():
    op.execute("DELETE FROM data_versions WHERE name = 'coverage_changes'")
    op.drop_table('coverage_changes')
