"""setup_tokens: one-time links to create the first admin

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('setup_tokens',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_sha256', name=op.f('pk_setup_tokens'))
    )


def downgrade() -> None:
    op.drop_table('setup_tokens')
