"""processing_retries: a submission's processing interrupted by a full disk or a lost
database is retried with backoff (attempts so far, when the next one is due)

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('processing_attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('processing_retry_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('processing_retry_at')
        batch_op.drop_column('processing_attempts')
