"""sessions_and_hashed_tokens: device links stored as SHA-256 hashes, per-user session generation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 19:00:00

Each coordinator's plain-text `users.device_token` becomes one row of `device_links` holding
only the token's SHA-256, so phones already set up keep working (they present the same token)
while the database no longer holds it. A downgrade cannot restore plain tokens: every phone
must then be linked again.
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'device_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_device_links_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_device_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_device_links_token_hash')),
    )
    with op.batch_alter_table('device_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_links_user_id'), ['user_id'], unique=False)

    bind = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('device_token', sa.String),
                     sa.column('created_at', sa.DateTime))
    links = sa.table('device_links', sa.column('user_id', sa.Integer),
                     sa.column('token_hash', sa.String), sa.column('label', sa.String),
                     sa.column('created_at', sa.DateTime))
    rows = bind.execute(sa.select(users.c.id, users.c.device_token, users.c.created_at)
                        .where(users.c.device_token.is_not(None))).all()
    for user_id, token, created_at in rows:
        digest = hashlib.sha256(token.encode('utf-8')).hexdigest()
        bind.execute(sa.insert(links).values(user_id=user_id, token_hash=digest,
                                             label='device link', created_at=created_at))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_device_token', type_='unique')
        batch_op.drop_column('device_token')
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
        batch_op.add_column(sa.Column('device_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_users_device_token', ['device_token'])
    with op.batch_alter_table('device_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_links_user_id'))
    op.drop_table('device_links')
