"""monitoring subtypes, the household's phone, and an exit judgement that can be "cannot tell" (issue 14)

households.monitoring_type keeps the kind of 监测户 the roster gives (脱贫不稳定户, 边缘易致贫户,
突发严重困难户);
household_records.exit_eligible becomes nullable: null when no income was surveyed (无法判断). Records are derived:
households.phone is the roster's 联系电话. `reconcile rebuild` (or the background refold after the rules digest changed) fills both.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monitoring_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
    with op.batch_alter_table('household_records', schema=None) as batch_op:
        batch_op.alter_column('exit_eligible', existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE household_records SET exit_eligible = false WHERE exit_eligible IS NULL")
    with op.batch_alter_table('household_records', schema=None) as batch_op:
        batch_op.alter_column('exit_eligible', existing_type=sa.Boolean(), nullable=False)
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_column('phone')
        batch_op.drop_column('monitoring_type')
