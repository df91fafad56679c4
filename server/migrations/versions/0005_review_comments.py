"""review comments: supervisors' review decisions on submissions

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('author_name', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('review_state', sa.String(length=16), nullable=True),
    sa.Column('created_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("review_state IS NOT NULL OR body <> ''", name=op.f('ck_review_comments_says_something')),
    sa.CheckConstraint("review_state IS NULL OR review_state IN ('received','has_issues','approved','rejected')", name=op.f('ck_review_comments_review_state_known')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_comments_author_id_users')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_review_comments_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_comments'))
    )
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_comments_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_review_comments_submission_created', ['submission_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_review_comments_submission_created')
        batch_op.drop_index(batch_op.f('ix_review_comments_author_id'))

    op.drop_table('review_comments')
