"""ix_submissions_superseded: the submissions an edit replaced (few), so the reports find the
submissions without a visit (those replaced, those not processed yet) without reading every
submission of a round

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 01:10:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_submissions_superseded', 'submissions', ['id'],
                    sqlite_where=sa.text("superseded = 1"),
                    postgresql_where=sa.text("superseded"))


def downgrade():
    op.drop_index('ix_submissions_superseded', table_name='submissions')
