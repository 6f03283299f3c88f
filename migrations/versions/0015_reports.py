"""reports: the meetings' reports archived per period and area, and the weights of the
coordinators' assessment (issue 11, items 3 and 4)

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-12 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'assessment_weights',
        sa.Column('criterion', sa.String(length=32), nullable=False),
        sa.Column('weight', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name=op.f('fk_assessment_weights_updated_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('criterion', name=op.f('pk_assessment_weights')),
    )
    op.create_table(
        'archived_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('period_key', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=True),
        sa.Column('title', sa.String(length=256), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('xlsx', sa.LargeBinary(), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('generated_at', sa.DateTime(), nullable=False),
        sa.Column('generated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['area_id'], ['areas.id'],
                                name=op.f('fk_archived_reports_area_id_areas'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['generated_by_id'], ['users.id'],
                                name=op.f('fk_archived_reports_generated_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'],
                                name=op.f('fk_archived_reports_round_id_rounds'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_archived_reports')),
        sa.UniqueConstraint('kind', 'period_key', 'area_id',
                            name='uq_archived_reports_kind_period_area'),
    )
    with op.batch_alter_table('archived_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archived_reports_area_id'), ['area_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('archived_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_archived_reports_area_id'))
    op.drop_table('archived_reports')
    op.drop_table('assessment_weights')
