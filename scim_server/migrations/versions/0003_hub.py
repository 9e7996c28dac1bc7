"""hub: duty schedules (weekly windows, dated exceptions) and resource permissions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:12:51.004225
"""

from alembic import op
import sqlalchemy as sa
import scim_server.storage.models  # noqa: F401


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('duty_schedules',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('modified_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_duty_schedules_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_duty_schedules_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_duty_schedules'))
    )
    with op.batch_alter_table('duty_schedules', schema=None) as batch_op:
        batch_op.create_index('ix_duty_schedules_account', ['account_id', 'user_id'], unique=False)

    op.create_table('duty_exceptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=3), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=True),
    sa.Column('end_time', sa.Time(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.CheckConstraint("(start_time IS NULL AND end_time IS NULL AND kind = 'off') OR (start_time IS NOT NULL AND end_time IS NOT NULL)", name=op.f('ck_duty_exceptions_times')),
    sa.CheckConstraint("kind IN ('off', 'on')", name=op.f('ck_duty_exceptions_kind')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_duty_exceptions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['duty_schedules.user_id'], name=op.f('fk_duty_exceptions_user_id_duty_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_exceptions'))
    )
    with op.batch_alter_table('duty_exceptions', schema=None) as batch_op:
        batch_op.create_index('ix_duty_exceptions_account_date', ['account_id', 'on_date'], unique=False)
        batch_op.create_index('ix_duty_exceptions_user', ['user_id', 'on_date'], unique=False)

    op.create_table('duty_windows',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('weekday', sa.SmallInteger(), nullable=False),
    sa.Column('start_time', sa.Time(), nullable=False),
    sa.Column('end_time', sa.Time(), nullable=False),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_duty_windows_weekday_range')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_duty_windows_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['duty_schedules.user_id'], name=op.f('fk_duty_windows_user_id_duty_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_windows'))
    )
    with op.batch_alter_table('duty_windows', schema=None) as batch_op:
        batch_op.create_index('ix_duty_windows_account_weekday', ['account_id', 'weekday'], unique=False)
        batch_op.create_index('ix_duty_windows_user', ['user_id'], unique=False)

    op.create_table('resource_permissions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=True),
    sa.Column('group_id', sa.String(length=32), nullable=True),
    sa.Column('level', sa.String(length=5), nullable=False),
    sa.Column('granted_at', scim_server.storage.models.UTCDateTime(), nullable=False),
    sa.Column('granted_by_id', sa.String(length=32), nullable=True),
    sa.CheckConstraint("level IN ('view', 'edit', 'admin')", name=op.f('ck_resource_permissions_level')),
    sa.CheckConstraint('(user_id IS NULL) <> (group_id IS NULL)', name=op.f('ck_resource_permissions_one_principal')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_resource_permissions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_resource_permissions_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_id'], ['resources.id'], name=op.f('fk_resource_permissions_resource_id_resources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_resource_permissions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_permissions')),
    sa.UniqueConstraint('resource_id', 'group_id', name='uq_resource_permissions_group'),
    sa.UniqueConstraint('resource_id', 'user_id', name='uq_resource_permissions_user')
    )
    with op.batch_alter_table('resource_permissions', schema=None) as batch_op:
        batch_op.create_index('ix_resource_permissions_account', ['account_id', 'resource_id'], unique=False)
        batch_op.create_index('ix_resource_permissions_group', ['group_id'], unique=False)
        batch_op.create_index('ix_resource_permissions_user', ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('resource_permissions', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_permissions_user')
        batch_op.drop_index('ix_resource_permissions_group')
        batch_op.drop_index('ix_resource_permissions_account')

    op.drop_table('resource_permissions')
    with op.batch_alter_table('duty_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_windows_user')
        batch_op.drop_index('ix_duty_windows_account_weekday')

    op.drop_table('duty_windows')
    with op.batch_alter_table('duty_exceptions', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_exceptions_user')
        batch_op.drop_index('ix_duty_exceptions_account_date')

    op.drop_table('duty_exceptions')
    with op.batch_alter_table('duty_schedules', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_schedules_account')

    op.drop_table('duty_schedules')