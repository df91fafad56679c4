"""workers: each background worker's last batch and jobs done, for the admin page (issue 17 item 15)

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('started_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_batch_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reconciled', sa.BigInteger(), nullable=False),
    sa.Column('photos', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("kind IN ('thread','command')", name=op.f('ck_workers_kind_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workers_last_batch_at'), ['last_batch_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workers_last_batch_at'))
    op.drop_table('workers')
