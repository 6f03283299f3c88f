"""user_successor: who took over a user's areas and open work when they left

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('successor_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_users_successor_id', ['successor_id'], unique=False)
        batch_op.create_foreign_key('fk_users_successor_id_users', 'users', ['successor_id'],
                                    ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('fk_users_successor_id_users', type_='foreignkey')
        batch_op.drop_index('ix_users_successor_id')
        batch_op.drop_column('successor_id')
