"""findings: an index on (code, area_id, household_id), so that the supervisor's home counts its few codes (C/D
houses, the 排查 list) in its areas through an index, not by reading every finding of the province (issue 18)

Revision ID: 0030
Revises: 0029
"""
from alembic import op


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index('ix_findings_code_area', ['code', 'area_id', 'household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index('ix_findings_code_area')
