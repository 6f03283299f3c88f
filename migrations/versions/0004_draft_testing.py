"""draft_testing: a draft version's secret test-link token, test submissions flagged

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:00:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('draft_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_form_versions_draft_token'), ['draft_token'])
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('draft', sa.Boolean(), server_default=sa.false(), nullable=False))
    # Drafts stored before this revision get their test link now.
    conn = op.get_bind()
    versions = sa.table('form_versions', sa.column('id', sa.Integer),
                        sa.column('state', sa.String), sa.column('draft_token', sa.String))
    for (version_id,) in conn.execute(sa.select(versions.c.id).where(versions.c.state == 'draft')):
        conn.execute(versions.update().where(versions.c.id == version_id)
                     .values(draft_token=secrets.token_urlsafe(24)))


def downgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('draft')
    with op.batch_alter_table('form_versions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_form_versions_draft_token'), type_='unique')
        batch_op.drop_column('draft_token')
