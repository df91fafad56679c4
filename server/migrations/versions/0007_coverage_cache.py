"""coverage: per-area, per-month counts cached on demand and marked stale by the reconciler

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # both start empty: the first coverage request after the upgrade counts the months it shows
    op.create_table('coverage_months',
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('visited', sa.Integer(), nullable=False),
    sa.Column('verified', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_coverage_months_area_id_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('area_id', 'month', name=op.f('pk_coverage_months'))
    )
    op.create_table('coverage_stale',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_coverage_stale_area_id_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_stale'))
    )
    with op.batch_alter_table('coverage_stale', schema=None) as batch_op:
        batch_op.create_index('ix_coverage_stale_area_month', ['area_id', 'month'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('coverage_stale', schema=None) as batch_op:
        batch_op.drop_index('ix_coverage_stale_area_month')

    op.drop_table('coverage_stale')
    op.drop_table('coverage_months')
