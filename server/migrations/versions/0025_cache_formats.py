"""cache_formats: the way each derived table was kept, so a starting worker rebuilds it once after a change instead
of reading every visit at each start (issue 18)

Revision ID: 0025
Revises: 0024
"""
from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cache_formats',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_cache_formats'))
    )


def downgrade() -> None:
    op.drop_table('cache_formats')
