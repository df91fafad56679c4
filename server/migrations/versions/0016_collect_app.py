"""collect_apps: the ODK Collect APK an admin uploads for cadres to download (issue 17 item 7)

Revision ID: 0016
Revises: 0015
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collect_apps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_collect_apps_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collect_apps'))
    )


def downgrade() -> None:
    op.drop_table('collect_apps')
