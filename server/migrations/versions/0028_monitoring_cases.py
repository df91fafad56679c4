"""monitoring_cases and monitoring_decisions: the monitoring cases (防止返贫监测) derived by the reconciler, and the
decisions people make on them (issue 19)

Revision ID: 0028
Revises: 0027
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitoring_cases',
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('proposed_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source_instance_id', sa.String(length=255), nullable=False),
    sa.Column('suggested_subtype', sa.String(length=10), nullable=False),
    sa.Column('subtype', sa.String(length=10), nullable=True),
    sa.Column('suggested_risks', sa.JSON(), nullable=False),
    sa.Column('risks', sa.JSON(), nullable=False),
    sa.Column('identified_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('identified_by', sa.String(length=100), nullable=True),
    sa.Column('ended_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('cadre', sa.String(length=64), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('measures', sa.JSON(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.CheckConstraint("state IN ('proposed','identified','helped','removed','dismissed')",
                       name=op.f('ck_monitoring_cases_state_known')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_monitoring_cases_area_id_areas')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_monitoring_cases_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_monitoring_cases'))
    )
    with op.batch_alter_table('monitoring_cases', schema=None) as batch_op:
        batch_op.create_index('ix_monitoring_cases_area_state', ['area_id', 'state', 'proposed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_cases_household_id'), ['household_id'], unique=False)

    op.create_table('monitoring_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_key', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=100), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('include','dismiss','remove','measure')",
                       name=op.f('ck_monitoring_decisions_kind_known')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_monitoring_decisions_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_monitoring_decisions_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_decisions'))
    )
    with op.batch_alter_table('monitoring_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_decisions_case_key'), ['case_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_decisions_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('monitoring_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_decisions_household_id'))
        batch_op.drop_index(batch_op.f('ix_monitoring_decisions_case_key'))
    op.drop_table('monitoring_decisions')
    with op.batch_alter_table('monitoring_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_cases_household_id'))
        batch_op.drop_index('ix_monitoring_cases_area_state')
    op.drop_table('monitoring_cases')
