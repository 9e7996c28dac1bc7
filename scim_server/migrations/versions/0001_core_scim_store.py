"""core scim store

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 22:05:25.110964
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import scim_server.storage.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('accounts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('domains', sa.JSON(), nullable=False),
    sa.Column('guest_allowlist', sa.JSON(), nullable=True),
    sa.Column('guest_denylist', sa.JSON(), nullable=False),
    sa.Column('plan', sa.String(length=50), nullable=False),
    sa.Column('seats_limit', sa.Integer(), nullable=False),
    sa.Column('operators_limit', sa.Integer(), nullable=False),
    sa.Column('created_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('activity_tracking_since', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_accounts_name'))
    )
    op.create_table('groups',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.String(length=400), nullable=True),
    sa.Column('display_name_key', sa.String(length=400), nullable=True),
    sa.Column('external_id', sa.String(length=400), nullable=True),
    sa.Column('created_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('modified_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('search', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_groups_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('account_id', 'display_name_key', name='uq_groups_account_display_name')
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.create_index('ix_groups_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_groups_account_external_id', ['account_id', 'external_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('user_name', sa.String(length=400), nullable=True),
    sa.Column('user_name_key', sa.String(length=400), nullable=True),
    sa.Column('external_id', sa.String(length=400), nullable=True),
    sa.Column('display_name', sa.String(length=400), nullable=True),
    sa.Column('display_name_key', sa.String(length=400), nullable=True),
    sa.Column('email', sa.String(length=400), nullable=True),
    sa.Column('user_type', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=True),
    sa.Column('last_activity_at', scim_server.storage.models.UTCDateTime(), nullable=True),
    sa.Column('deleted_at', scim_server.storage.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('modified_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('search', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_users_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('account_id', 'user_name_key', name='uq_users_account_user_name')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_account_created', ['account_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_users_account_display_name_key', ['account_id', 'display_name_key'], unique=False)
        batch_op.create_index('ix_users_account_external_id', ['account_id', 'external_id'], unique=False)
        batch_op.create_index('ix_users_account_last_activity', ['account_id', 'last_activity_at', 'id'], unique=False)
        batch_op.create_index('ix_users_account_status', ['account_id', 'status', 'user_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=False)

    op.create_table('credentials',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', scim_server.storage.models.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', scim_server.storage.models.UTCDateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_credentials_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_credentials_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_credentials_secret_hash'))
    )
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.create_index('ix_credentials_account_user', ['account_id', 'user_id', 'kind'], unique=False)

    op.create_table('group_members',
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('member_type', sa.String(length=10), nullable=False),
    sa.Column('display', sa.String(length=400), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_group_members_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_members_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'member_id', name=op.f('pk_group_members'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index('ix_group_members_member', ['member_id', 'group_id'], unique=False)

    op.create_table('user_emails',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('value_key', sa.String(length=400), nullable=False),
    sa.Column('type_key', sa.String(length=100), nullable=True),
    sa.Column('primary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_user_emails_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_emails_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_emails'))
    )
    with op.batch_alter_table('user_emails', schema=None) as batch_op:
        batch_op.create_index('ix_user_emails_account_value', ['account_id', 'value_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_emails_user_id'), ['user_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('user_emails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_emails_user_id'))
        batch_op.drop_index('ix_user_emails_account_value')

    op.drop_table('user_emails')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index('ix_group_members_member')

    op.drop_table('group_members')
    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_index('ix_credentials_account_user')

    op.drop_table('credentials')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_email'))
        batch_op.drop_index('ix_users_account_status')
        batch_op.drop_index('ix_users_account_last_activity')
        batch_op.drop_index('ix_users_account_external_id')
        batch_op.drop_index('ix_users_account_display_name_key')
        batch_op.drop_index('ix_users_account_created')

    op.drop_table('users')
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index('ix_groups_account_external_id')
        batch_op.drop_index('ix_groups_account_created')

    op.drop_table('groups')
    op.drop_table('accounts')
    
