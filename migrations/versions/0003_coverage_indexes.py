"""coverage_indexes: a building's visits in a round, a round's last coverage change

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 16:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_building_id'))
        batch_op.create_index('ix_visits_building_round', ['building_id', 'round_id'], unique=False)
    with op.batch_alter_table('building_coverage', schema=None) as batch_op:
        batch_op.create_index(
            'ix_building_coverage_round_updated', ['round_id', 'updated_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('building_coverage', schema=None) as batch_op:
        batch_op.drop_index('ix_building_coverage_round_updated')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_building_round')
        batch_op.create_index(batch_op.f('ix_visits_building_id'), ['building_id'], unique=False)
