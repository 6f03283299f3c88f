"""rounds_and_phases: phases, a round's areas, forms, targets, thresholds; re-derivation jobs;
each visit's local day

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 19:00:00

"""
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

#: The township's zone when this revision ran (visits stored before it have no local day).
ZONE = "Asia/Shanghai"


def upgrade():
    op.create_table('phases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('update_rate_target', sa.Float(), nullable=False),
    sa.Column('accuracy_target', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_phases')),
    sa.UniqueConstraint('name', name=op.f('uq_phases_name'))
    )
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phase_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('update_rate_target', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('accuracy_target', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('match_distance_m', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('gps_accuracy_m', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(),
                                      server_default=sa.func.now(), nullable=False))
        batch_op.create_index(batch_op.f('ix_rounds_phase_id'), ['phase_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rounds_phase_id_phases'), 'phases',
                                    ['phase_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_rounds_created_by_id_users'), 'users',
                                    ['created_by_id'], ['id'], ondelete='SET NULL')
    op.create_table('round_areas',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'],
                            name=op.f('fk_round_areas_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'],
                            name=op.f('fk_round_areas_round_id_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'area_id', name=op.f('pk_round_areas'))
    )
    op.create_table('round_forms',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'],
                            name=op.f('fk_round_forms_form_id_forms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'],
                            name=op.f('fk_round_forms_round_id_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('round_id', 'form_id', name=op.f('pk_round_forms'))
    )
    op.create_table('round_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_day', sa.Date(), nullable=False),
    sa.Column('to_day', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('moved', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'],
                            name=op.f('fk_round_jobs_round_id_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_round_jobs'))
    )
    with op.batch_alter_table('round_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_round_jobs_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_round_jobs_state'), ['state'], unique=False)
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visited_on', sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f('ix_visits_visited_on'), ['visited_on'], unique=False)
    _backfill_visited_on()


def _backfill_visited_on():
    """Existing visits: their stored UTC time as a day in the township's zone."""
    bind = op.get_bind()
    visits = sa.table('visits', sa.column('id', sa.Integer), sa.column('visited_at', sa.DateTime),
                      sa.column('visited_on', sa.Date))
    zone = ZoneInfo(ZONE)
    rows = bind.execute(sa.select(visits.c.id, visits.c.visited_at)).all()
    changes = [{"vid": vid, "day": at.replace(tzinfo=UTC).astimezone(zone).date()}
               for vid, at in rows if at is not None]
    for start in range(0, len(changes), 10_000):
        bind.execute(sa.update(visits).where(visits.c.id == sa.bindparam("vid"))
                     .values(visited_on=sa.bindparam("day")), changes[start:start + 10_000])


def downgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_visited_on'))
        batch_op.drop_column('visited_on')
    with op.batch_alter_table('round_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_round_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_round_jobs_round_id'))
    op.drop_table('round_jobs')
    op.drop_table('round_forms')
    op.drop_table('round_areas')
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rounds_created_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_rounds_phase_id_phases'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rounds_phase_id'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('created_by_id')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('gps_accuracy_m')
        batch_op.drop_column('match_distance_m')
        batch_op.drop_column('accuracy_target')
        batch_op.drop_column('update_rate_target')
        batch_op.drop_column('phase_id')
    op.drop_table('phases')
