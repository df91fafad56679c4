"""rules digest index: the records folded with other rules are found through an index (issue 18)

Revision ID: 0013
Revises: 0012
"""
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('household_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_records_rules_digest'), ['rules_digest'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('household_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_records_rules_digest'))
