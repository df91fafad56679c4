"""rules digest: every household record carries the digest of the rules it was folded with

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # records folded before they carried a digest count as folded with other rules: the worker folds them again
    with op.batch_alter_table('household_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_digest', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('household_records', schema=None) as batch_op:
        batch_op.drop_column('rules_digest')
