"""coverage: a covering index for a month's visits under an area

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # on a large live database build the new index first by hand with CREATE INDEX CONCURRENTLY
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_area_month')
        batch_op.create_index('ix_visits_area_month_household', ['area_id', 'month', 'household_id', 'verdict'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_area_month_household')
        batch_op.create_index('ix_visits_area_month', ['area_id', 'month'], unique=False)
