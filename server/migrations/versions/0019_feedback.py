"""feedback to the cadre: a sender's reply to a review, and the returned submissions found by sender and by area

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

RETURNED_WHERE = "review_state IN ('has_issues','rejected')"


def upgrade() -> None:
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_submitter', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint('reply_sets_no_state', 'NOT from_submitter OR review_state IS NULL')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_returned_submitter', ['submitter_id'],
                              sqlite_where=sa.text(RETURNED_WHERE), postgresql_where=sa.text(RETURNED_WHERE))
        batch_op.create_index('ix_submissions_returned_area', ['area_id'],
                              sqlite_where=sa.text(RETURNED_WHERE), postgresql_where=sa.text(RETURNED_WHERE))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_returned_area', sqlite_where=sa.text(RETURNED_WHERE),
                            postgresql_where=sa.text(RETURNED_WHERE))
        batch_op.drop_index('ix_submissions_returned_submitter', sqlite_where=sa.text(RETURNED_WHERE),
                            postgresql_where=sa.text(RETURNED_WHERE))
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_constraint('ck_review_comments_reply_sets_no_state', type_='check')
        batch_op.drop_column('from_submitter')
