"""canonical model

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 10:23:27.534567
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_api_keys_name'))
    )
    op.create_table('coaches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('cancellation_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('reminder_offsets_minutes', sa.JSON(), nullable=False),
    sa.Column('buffer_minutes', sa.Integer(), nullable=False),
    sa.Column('min_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('auto_confirm', sa.Boolean(), nullable=False),
    sa.Column('requires_payment', sa.Boolean(), nullable=False),
    sa.Column('calendar_delete_policy', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('calcom_user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('calcom_username', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coaches')),
    sa.UniqueConstraint('email', name=op.f('uq_coaches_email'))
    )
    op.create_table('kv_state',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_kv_state'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('received_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('processed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('session_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('provider', 'dedupe_key', name='uq_webhook_deliveries_dedupe')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_provider_received', ['provider', 'received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_session_id'), ['session_id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_state_received', ['state', 'received_at'], unique=False)

    op.create_table('availability_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Uuid(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('available', sa.Boolean(), nullable=False),
    sa.Column('start_time', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.Column('end_time', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
    sa.ForeignKeyConstraint(['coach_id'], ['coaches.id'], name=op.f('fk_availability_overrides_coach_id_coaches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_overrides'))
    )
    with op.batch_alter_table('availability_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_overrides_coach_id'), ['coach_id'], unique=False)

    op.create_table('availability_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Uuid(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_time', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('end_time', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.ForeignKeyConstraint(['coach_id'], ['coaches.id'], name=op.f('fk_availability_rules_coach_id_coaches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_rules'))
    )
    with op.batch_alter_table('availability_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_rules_coach_id'), ['coach_id'], unique=False)

    op.create_table('calendar_connections',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('coach_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('account_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('tokens_encrypted', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('destination_calendar', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('busy_calendars', sa.JSON(), nullable=False),
    sa.Column('sync_token', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('channel_resource_id', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('channel_secret_encrypted', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('channel_expires_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_synced_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coach_id'], ['coaches.id'], name=op.f('fk_calendar_connections_coach_id_coaches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_connections')),
    sa.UniqueConstraint('coach_id', 'provider', 'account_email', name='uq_connection_account')
    )
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_connections_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_connections_coach_id'), ['coach_id'], unique=False)

    op.create_table('sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('coach_id', sa.Uuid(), nullable=False),
    sa.Column('attendee_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('attendee_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('attendee_client_ref', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('attendee_timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('guests', sa.JSON(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('notes', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('start_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('payment_status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('payment_amount', sa.Integer(), nullable=True),
    sa.Column('payment_currency', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
    sa.Column('meeting_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('series_id', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source_clock', sa.JSON(), nullable=False),
    sa.Column('cancelled_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('cancellation_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('actual_start', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('actual_end', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coach_id'], ['coaches.id'], name=op.f('fk_sessions_coach_id_coaches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_attendee_email'), ['attendee_email'], unique=False)
        batch_op.create_index('ix_sessions_coach_start', ['coach_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_status'), ['status'], unique=False)

    op.create_table('provider_links',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('remote_version', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('synced_version', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_provider_links_session_id_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_links')),
    sa.UniqueConstraint('provider', 'external_id', name='uq_provider_links_external')
    )
    with op.batch_alter_table('provider_links', schema=None) as batch_op:
        batch_op.create_index('ix_provider_links_session', ['session_id', 'provider'], unique=False)
        batch_op.create_index('ix_provider_links_state', ['state'], unique=False)

    op.create_table('reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('offset_minutes', sa.Integer(), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_reminders_session_id_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
    sa.UniqueConstraint('session_id', 'offset_minutes', 'recipient', 'channel', name='uq_reminders_slot')
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_due', ['sent_at', 'due_at'], unique=False)

    op.create_table('session_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_events_session_id_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_events'))
    )
    with op.batch_alter_table('session_events', schema=None) as batch_op:
        batch_op.create_index('ix_session_events_session_at', ['session_id', 'id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('session_events', schema=None) as batch_op:
        batch_op.drop_index('ix_session_events_session_at')

    op.drop_table('session_events')
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_due')

    op.drop_table('reminders')
    with op.batch_alter_table('provider_links', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_links_state')
        batch_op.drop_index('ix_provider_links_session')

    op.drop_table('provider_links')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_status'))
        batch_op.drop_index(batch_op.f('ix_sessions_series_id'))
        batch_op.drop_index('ix_sessions_coach_start')
        batch_op.drop_index(batch_op.f('ix_sessions_attendee_email'))

    op.drop_table('sessions')
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_connections_coach_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_connections_channel_id'))

    op.drop_table('calendar_connections')
    with op.batch_alter_table('availability_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_availability_rules_coach_id'))

    op.drop_table('availability_rules')
    with op.batch_alter_table('availability_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_availability_overrides_coach_id'))

    op.drop_table('availability_overrides')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_state_received')
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_session_id'))
        batch_op.drop_index('ix_webhook_deliveries_provider_received')

    op.drop_table('webhook_deliveries')
    op.drop_table('kv_state')
    op.drop_table('coaches')
    op.drop_table('api_keys')

