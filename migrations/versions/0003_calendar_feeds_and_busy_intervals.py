"""calendar feeds and busy intervals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:00:42.653629
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('connection_id', sa.Uuid(), nullable=False),
    sa.Column('calendar_id', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('cursor', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('channel_resource_id', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('channel_token_encrypted', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('channel_expires_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dirty_since', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_synced_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['calendar_connections.id'], name=op.f('fk_calendar_feeds_connection_id_calendar_connections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('channel_id', name=op.f('uq_calendar_feeds_channel_id')),
    sa.UniqueConstraint('connection_id', 'calendar_id', name='uq_feed_calendar')
    )
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feeds_channel_resource_id'), ['channel_resource_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_feeds_connection_id'), ['connection_id'], unique=False)

    op.create_table('busy_intervals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Uuid(), nullable=False),
    sa.Column('feed_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.Column('start_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coach_id'], ['coaches.id'], name=op.f('fk_busy_intervals_coach_id_coaches')),
    sa.ForeignKeyConstraint(['feed_id'], ['calendar_feeds.id'], name=op.f('fk_busy_intervals_feed_id_calendar_feeds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_busy_intervals')),
    sa.UniqueConstraint('feed_id', 'event_id', name='uq_busy_event')
    )
    with op.batch_alter_table('busy_intervals', schema=None) as batch_op:
        batch_op.create_index('ix_busy_intervals_coach_start', ['coach_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_busy_intervals_feed_id'), ['feed_id'], unique=False)

    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        # existing rows get empty values; the app always writes both
        batch_op.add_column(sa.Column('calendars', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
        batch_op.drop_index(batch_op.f('ix_calendar_connections_channel_id'))
        batch_op.drop_column('sync_token')
        batch_op.drop_column('channel_secret_encrypted')
        batch_op.drop_column('channel_expires_at')
        batch_op.drop_column('channel_id')
        batch_op.drop_column('channel_resource_id')



def downgrade() -> None:
    with op.batch_alter_table('calendar_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_resource_id', sa.VARCHAR(length=1024), nullable=True))
        batch_op.add_column(sa.Column('channel_id', sa.VARCHAR(length=256), nullable=True))
        batch_op.add_column(sa.Column('channel_expires_at', sa.DATETIME(), nullable=True))
        batch_op.add_column(sa.Column('channel_secret_encrypted', sa.VARCHAR(), nullable=True))
        batch_op.add_column(sa.Column('sync_token', sa.VARCHAR(), nullable=True))
        batch_op.create_index(batch_op.f('ix_calendar_connections_channel_id'), ['channel_id'], unique=False)
        batch_op.drop_column('options')
        batch_op.drop_column('calendars')

    with op.batch_alter_table('busy_intervals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_busy_intervals_feed_id'))
        batch_op.drop_index('ix_busy_intervals_coach_start')

    op.drop_table('busy_intervals')
    with op.batch_alter_table('calendar_feeds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_feeds_connection_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_feeds_channel_resource_id'))

    op.drop_table('calendar_feeds')
