"""image checks and derivatives on attachments

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submission_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_check', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('image_info', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('thumb_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('preview_sha256', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('submission_attachments', schema=None) as batch_op:
        batch_op.drop_column('preview_sha256')
        batch_op.drop_column('thumb_sha256')
        batch_op.drop_column('image_info')
        batch_op.drop_column('image_check')

