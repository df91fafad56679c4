"""exit_steps: the exit procedure (退出程序) steps people enter for a household proposed to exit (issue 19)

Revision ID: 0024
Revises: 0023
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('exit_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('standard_met', sa.Boolean(), nullable=True),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('photo_type', sa.String(length=20), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=100), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("step IN ('appraisal','verification','publicity','town_check','county_check',"
                       "'announcement','filing')", name=op.f('ck_exit_steps_step_known')),
    sa.CheckConstraint('position BETWEEN 1 AND 7', name=op.f('ck_exit_steps_position_range')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_exit_steps_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_exit_steps_household_id_households'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exit_steps')),
    sa.UniqueConstraint('household_id', 'position', name=op.f('uq_exit_steps_household_position')),
    sa.UniqueConstraint('household_id', 'step', name=op.f('uq_exit_steps_household_step'))
    )
    with op.batch_alter_table('exit_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exit_steps_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('exit_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exit_steps_household_id'))
    op.drop_table('exit_steps')
