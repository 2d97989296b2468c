"""personal data: erasure audit log (filled by the personal-data work)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 13:00:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erasure_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('erased_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('subject_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_log'))
    )
    with op.batch_alter_table('erasure_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_log_subject_hash'), ['subject_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('erasure_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_log_subject_hash'))

    op.drop_table('erasure_log')
