"""feedback state kept: a returned submission's return time and feedback state as columns, the returned ones
indexed with it, and an index on the edit chain (issue 15: the homes at a city's size)

The rows already returned get their state when a worker next starts (sync.feedback_state.refresh_unset).

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

from server.db import UTCDateTime


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

RETURNED_WHERE = "review_state IN ('has_issues','rejected')"


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('returned_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('feedback_state', sa.String(length=10), nullable=True))
        batch_op.create_index('ix_submissions_root_instance', ['root_instance_id'], unique=False)
        for name, column in (('ix_submissions_returned_submitter', 'submitter_id'),
                             ('ix_submissions_returned_area', 'area_id')):
            batch_op.drop_index(name, sqlite_where=sa.text(RETURNED_WHERE), postgresql_where=sa.text(RETURNED_WHERE))
            batch_op.create_index(name, [column, 'feedback_state'], sqlite_where=sa.text(RETURNED_WHERE),
                                  postgresql_where=sa.text(RETURNED_WHERE))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        for name, column in (('ix_submissions_returned_submitter', 'submitter_id'),
                             ('ix_submissions_returned_area', 'area_id')):
            batch_op.drop_index(name, sqlite_where=sa.text(RETURNED_WHERE), postgresql_where=sa.text(RETURNED_WHERE))
            batch_op.create_index(name, [column], sqlite_where=sa.text(RETURNED_WHERE),
                                  postgresql_where=sa.text(RETURNED_WHERE))
        batch_op.drop_index('ix_submissions_root_instance')
        batch_op.drop_column('feedback_state')
        batch_op.drop_column('returned_at')
