"""report_marks, report_day_counts: what each building's visits in a round add to the report
pages' sums, and those sums per street, person and day (visits, suspect ones, buildings
visited by the day of their previous visit, submissions approved and reviewed); filled here
from the stored visits

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_marks',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('building_id', sa.Integer(), nullable=False),
        sa.Column('marks', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'building_id'),
    )
    op.create_table(
        'report_day_counts',
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('street_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('prev', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            'visits', 'suspect_visits', 'first_street', 'first_person', 'approved',
            'reviewed')),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'street_id', 'person_id', 'day', 'prev'),
    )
    op.create_index('ix_report_day_counts_day', 'report_day_counts', ['day'])
    from server.services.coverage import report_days

    conn = op.get_bind()
    for (round_id,) in conn.execute(sa.text("SELECT id FROM rounds ORDER BY id")).all():
        report_days.rebuild(round_id, conn)


def downgrade():
    op.drop_index('ix_report_day_counts_day', table_name='report_day_counts')
    op.drop_table('report_day_counts')
    op.drop_table('report_marks')
