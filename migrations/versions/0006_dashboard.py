"""dashboard: indexes for the ops pages (filled by the dashboard work)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 13:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hour', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_tallies')),
    sa.UniqueConstraint('hour', 'provider', 'outcome', name='uq_webhook_tallies_slot')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_received', ['received_at'], unique=False)
    with op.batch_alter_table('provider_links', schema=None) as batch_op:
        batch_op.create_index('ix_provider_links_external_id', ['external_id'], unique=False)
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index('ix_sessions_needs_review', ['needs_review'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_needs_review')
    with op.batch_alter_table('provider_links', schema=None) as batch_op:
        batch_op.drop_index('ix_provider_links_external_id')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_received')
    op.drop_table('webhook_tallies')
