"""register_conflicts: registrations held for a supervisor's decision (issue 14, finding 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 18:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table(
        'register_conflicts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entity_id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=True),
        sa.Column('submitter_id', sa.Integer(), nullable=True),
        sa.Column('uuid', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=512), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('properties', JSON, nullable=False),
        sa.Column('reason', sa.String(length=256), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                                name=op.f('fk_register_conflicts_decided_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['entity_id'], ['entities.id'],
                                name=op.f('fk_register_conflicts_entity_id_entities'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                                name=op.f('fk_register_conflicts_submission_id_submissions'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['submitter_id'], ['users.id'],
                                name=op.f('fk_register_conflicts_submitter_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_register_conflicts')),
        sa.UniqueConstraint('submission_id', 'uuid', name='uq_register_conflicts_submission_uuid'),
    )
    with op.batch_alter_table('register_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_register_conflicts_entity_id'), ['entity_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_register_conflicts_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_register_conflicts_submission_id'),
                              ['submission_id'], unique=False)


def downgrade():
    with op.batch_alter_table('register_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_conflicts_submission_id'))
        batch_op.drop_index(batch_op.f('ix_register_conflicts_state'))
        batch_op.drop_index(batch_op.f('ix_register_conflicts_entity_id'))
    op.drop_table('register_conflicts')
