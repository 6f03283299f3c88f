"""ix_visits_flagged: a round's visits that carry a flag, by day (a few in a hundred), so a
report lists the period's suspect visits without reading every visit of the round

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 13:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

FLAGGED_SQL = "flags != '[]'"  # as server/models/visits.py states it (a migration is frozen)


def upgrade():
    op.create_index('ix_visits_flagged', 'visits', ['round_id', 'visited_on'],
                    sqlite_where=sa.text(FLAGGED_SQL), postgresql_where=sa.text(FLAGGED_SQL))


def downgrade():
    op.drop_index('ix_visits_flagged', table_name='visits')
