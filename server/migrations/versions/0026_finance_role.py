"""finance role and visits on the renovation ledger (issue 19): users.role may be 'finance' (财务人员), who enters
the renovation ledger's payments; renovations.stage_sources names what set each stage's date (an assessment, a visit
or an entry), null on the rows written before until their household is reconciled again

Revision ID: 0026
Revises: 0025
"""
import sqlalchemy as sa
from alembic import op


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('role_known', type_='check')
        batch_op.create_check_constraint('role_known', "role IN ('admin','supervisor','cadre','finance')")
    with op.batch_alter_table('renovations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_sources', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('renovations', schema=None) as batch_op:
        batch_op.drop_column('stage_sources')
    # a finance account has no older role to become: the constraint fails while one exists (remove it first)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('role_known', type_='check')
        batch_op.create_check_constraint('role_known', "role IN ('admin','supervisor','cadre')")
