"""rentals: the rental-housing register (landlords, units, inspections: derived from the
register's households) and rectifications ordered by supervisors (issue 11, item 5)

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-11 10:00:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table(
        'rental_landlords',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ref', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=256), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('id_number', sa.String(length=32), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rental_landlords')),
        sa.UniqueConstraint('key', name=op.f('uq_rental_landlords_key')),
        sa.UniqueConstraint('ref', name=op.f('uq_rental_landlords_ref'))
    )
    with op.batch_alter_table('rental_landlords', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rental_landlords_id_number'), ['id_number'], unique=False)

    op.create_table(
        'rental_rectifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('household_uuid', sa.String(length=64), nullable=False),
        sa.Column('rule', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('opened_by_id', sa.Integer(), nullable=True),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closing_submission_id', sa.Integer(), nullable=True),
        sa.Column('close_note', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_rental_rectifications_closed_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['closing_submission_id'], ['submissions.id'], name=op.f('fk_rental_rectifications_closing_submission_id_submissions'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_rental_rectifications_opened_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rental_rectifications'))
    )
    with op.batch_alter_table('rental_rectifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rental_rectifications_household_uuid'), ['household_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_rental_rectifications_state'), ['state'], unique=False)

    op.create_table(
        'rental_units',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entity_id', sa.Integer(), nullable=False),
        sa.Column('household_uuid', sa.String(length=64), nullable=False),
        sa.Column('landlord_id', sa.Integer(), nullable=True),
        sa.Column('area_id', sa.Integer(), nullable=True),
        sa.Column('building_id', sa.Integer(), nullable=True),
        sa.Column('label', sa.String(length=512), nullable=False),
        sa.Column('tenure', sa.String(length=32), nullable=True),
        sa.Column('floor_area', sa.Float(), nullable=True),
        sa.Column('occupants', sa.Integer(), nullable=True),
        sa.Column('area_per_tenant', sa.Float(), nullable=True),
        sa.Column('rooms', sa.String(length=256), nullable=True),
        sa.Column('contract_filed', sa.String(length=8), nullable=True),
        sa.Column('contract_number', sa.String(length=64), nullable=True),
        sa.Column('contract_lessee', sa.String(length=128), nullable=True),
        sa.Column('contract_start', sa.Date(), nullable=True),
        sa.Column('contract_end', sa.Date(), nullable=True),
        sa.Column('last_inspection', sa.Date(), nullable=True),
        sa.Column('violations', JSON, nullable=False),
        sa.Column('violation_count', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_rental_units_area_id_areas')),
        sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_rental_units_building_id_buildings')),
        sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_rental_units_entity_id_entities'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['landlord_id'], ['rental_landlords.id'], name=op.f('fk_rental_units_landlord_id_rental_landlords'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rental_units')),
        sa.UniqueConstraint('entity_id', name=op.f('uq_rental_units_entity_id')),
        sa.UniqueConstraint('household_uuid', name=op.f('uq_rental_units_household_uuid'))
    )
    with op.batch_alter_table('rental_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rental_units_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rental_units_landlord_id'), ['landlord_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rental_units_violation_count'), ['violation_count'], unique=False)

    op.create_table(
        'rental_inspections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=True),
        sa.Column('inspected_on', sa.Date(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('violations', JSON, nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_rental_inspections_submission_id_submissions'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['unit_id'], ['rental_units.id'], name=op.f('fk_rental_inspections_unit_id_rental_units'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rental_inspections')),
        sa.UniqueConstraint('unit_id', 'submission_id',
                            name='uq_rental_inspections_unit_submission'),
    )
    with op.batch_alter_table('rental_inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rental_inspections_submission_id'), ['submission_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rental_inspections_unit_id'), ['unit_id'], unique=False)



def downgrade():
    with op.batch_alter_table('rental_inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rental_inspections_unit_id'))
        batch_op.drop_index(batch_op.f('ix_rental_inspections_submission_id'))

    op.drop_table('rental_inspections')
    with op.batch_alter_table('rental_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rental_units_violation_count'))
        batch_op.drop_index(batch_op.f('ix_rental_units_landlord_id'))
        batch_op.drop_index(batch_op.f('ix_rental_units_area_id'))

    op.drop_table('rental_units')
    with op.batch_alter_table('rental_rectifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rental_rectifications_state'))
        batch_op.drop_index(batch_op.f('ix_rental_rectifications_household_uuid'))

    op.drop_table('rental_rectifications')
    with op.batch_alter_table('rental_landlords', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rental_landlords_id_number'))

    op.drop_table('rental_landlords')
