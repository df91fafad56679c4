"""home indexes: the supervisor's home counts 监测户 by kind through an index (issue 15)

Revision ID: 0021
Revises: 0020
"""
from alembic import op


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_households_monitoring_type'), ['monitoring_type'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_monitoring_type'))
