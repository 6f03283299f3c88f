"""entity_natural_key: an indexed natural key per entity (a person's resident ID number)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 17:10:00

"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

NATURAL_KEYS = {"persons": "id_number"}


def upgrade():
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('natural_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_entities_dataset_natural_key', ['dataset', 'natural_key'],
                              unique=False)
    # Backfill from the stored properties (the same rule as server.services.register.entities).
    bind = op.get_bind()
    entities = sa.table('entities', sa.column('id', sa.Integer), sa.column('dataset', sa.String),
                        sa.column('properties', sa.Text), sa.column('natural_key', sa.String))
    for dataset, name in NATURAL_KEYS.items():
        rows = bind.execute(
            sa.select(entities.c.id, sa.cast(entities.c.properties, sa.Text))
            .where(entities.c.dataset == dataset)
        ).all()
        for entity_id, properties in rows:
            value = str((json.loads(properties or "{}") or {}).get(name) or "").strip()[:64]
            if value:
                bind.execute(sa.update(entities).where(entities.c.id == entity_id)
                             .values(natural_key=value))


def downgrade():
    with op.batch_alter_table('entities', schema=None) as batch_op:
        batch_op.drop_index('ix_entities_dataset_natural_key')
        batch_op.drop_column('natural_key')
