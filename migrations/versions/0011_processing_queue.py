"""processing_queue: pending submissions claimed in id order; committed runs counted

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('processing_runs', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.drop_index('ix_submissions_processing_state')
        batch_op.create_index('ix_submissions_processing_state_id', ['processing_state', 'id'],
                              unique=False)
    # Submissions processed before this revision ran once.
    op.execute("UPDATE submissions SET processing_runs = 1 WHERE processing_state IN ('done', 'error')")


def downgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_processing_state_id')
        batch_op.create_index('ix_submissions_processing_state', ['processing_state'],
                              unique=False)
        batch_op.drop_column('processing_runs')
