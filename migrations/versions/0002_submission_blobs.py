"""submission_blobs: raw submission XML stored in the database, committed with its row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('submission_blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_submission_blobs'))
    )


def downgrade():
    op.drop_table('submission_blobs')
