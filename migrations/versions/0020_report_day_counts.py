"""report_marks, report_day_counts: what each building's visits in a round add to the report
pages' sums, and those sums per street, person and day (visits, suspect ones, buildings'
first counted visits in the round, 旬 and week, submissions approved and reviewed); filled here
from the stored visits; ix_submissions_returned: the few submissions sent back

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
        *(sa.Column(name, sa.Integer(), nullable=False) for name in (
            'visits', 'suspect_visits', 'street_round', 'street_xun', 'street_week',
            'person_round', 'person_xun', 'person_week', 'approved', 'reviewed')),
        sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('round_id', 'street_id', 'person_id', 'day'),
    )
    op.create_index('ix_report_day_counts_day', 'report_day_counts', ['day'])
    op.create_index('ix_submissions_returned', 'submissions', ['review_state'],
                    sqlite_where=sa.text("review_state IN ('has_issues', 'rejected')"),
                    postgresql_where=sa.text("review_state IN ('has_issues', 'rejected')"))
    from server.services.coverage import report_days

    conn = op.get_bind()
    for (round_id,) in conn.execute(sa.text("SELECT id FROM rounds ORDER BY id")).all():
        report_days.rebuild(round_id, conn)


def downgrade():
    op.drop_index('ix_submissions_returned', table_name='submissions')
    op.drop_index('ix_report_day_counts_day', table_name='report_day_counts')
    op.drop_table('report_day_counts')
    op.drop_table('report_marks')
