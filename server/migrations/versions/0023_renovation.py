"""renovations and renovation_entries: the renovation ledger (危房改造台账) derived by the reconciler, and the facts
people enter on it (issue 19)

Revision ID: 0023
Revises: 0022
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('renovations',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.String(length=1), nullable=False),
    sa.Column('assessment_instance_id', sa.String(length=255), nullable=False),
    sa.Column('graded_on', sa.Date(), nullable=False),
    sa.Column('regraded', sa.JSON(), nullable=True),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=True),
    sa.Column('mode_other', sa.Text(), nullable=True),
    sa.Column('mode_source', sa.String(length=10), nullable=True),
    sa.Column('groups', sa.JSON(), nullable=False),
    sa.Column('groups_source', sa.String(length=10), nullable=False),
    sa.Column('floor_area', sa.Float(), nullable=True),
    sa.Column('subsidy', sa.Float(), nullable=True),
    sa.Column('subsidy_year', sa.Integer(), nullable=False),
    sa.Column('paid_amount', sa.Float(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('finished_on', sa.Date(), nullable=True),
    sa.Column('moved_in_on', sa.Date(), nullable=True),
    sa.Column('old_dealt_on', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('deadline_source', sa.String(length=10), nullable=True),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.CheckConstraint("grade IN ('C','D')", name=op.f('ck_renovations_grade_dangerous')),
    sa.CheckConstraint("stage IN ('planned','building','finished','moved_in','old_dealt')",
                       name=op.f('ck_renovations_stage_known')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_renovations_area_id_areas')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_renovations_household_id_households'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_renovations'))
    )
    with op.batch_alter_table('renovations', schema=None) as batch_op:
        batch_op.create_index('ix_renovations_area_stage_deadline', ['area_id', 'stage', 'deadline'], unique=False)

    op.create_table('renovation_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=100), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('payment','mode','floor_area','groups','deadline','stage')",
                       name=op.f('ck_renovation_entries_kind_known')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_renovation_entries_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_renovation_entries_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_renovation_entries'))
    )
    with op.batch_alter_table('renovation_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_renovation_entries_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('renovation_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renovation_entries_household_id'))
    op.drop_table('renovation_entries')
    with op.batch_alter_table('renovations', schema=None) as batch_op:
        batch_op.drop_index('ix_renovations_area_stage_deadline')
    op.drop_table('renovations')
