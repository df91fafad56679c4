"""cases and case_decisions: problem cases (问题清单) derived by the reconciler, and people's decisions on them
(issue 15)

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

import server.db


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('opened_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source_instance_id', sa.String(length=255), nullable=False),
    sa.Column('closed_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closing_instance_id', sa.String(length=255), nullable=True),
    sa.Column('closing_decision_id', sa.Integer(), nullable=True),
    sa.Column('cadre', sa.String(length=64), nullable=True),
    sa.Column('last_measure_at', server.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.CheckConstraint("state IN ('open','reopened','closed','signed_off')", name=op.f('ck_cases_state_known')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_cases_area_id_areas')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_cases_household_id_households'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_area_state_kind_opened', ['area_id', 'state', 'kind', 'opened_at'],
                              unique=False)
        batch_op.create_index('ix_cases_cadre_state', ['cadre', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_household_id'), ['household_id'], unique=False)

    op.create_table('case_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_key', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=100), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('sign_off','measure')", name=op.f('ck_case_decisions_kind_known')),
    sa.CheckConstraint("text <> ''", name=op.f('ck_case_decisions_says_something')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_case_decisions_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                            name=op.f('fk_case_decisions_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_decisions'))
    )
    with op.batch_alter_table('case_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_decisions_case_key'), ['case_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_decisions_household_id'), ['household_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_decisions_household_id'))
        batch_op.drop_index(batch_op.f('ix_case_decisions_case_key'))
    op.drop_table('case_decisions')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_household_id'))
        batch_op.drop_index('ix_cases_cadre_state')
        batch_op.drop_index('ix_cases_area_state_kind_opened')
    op.drop_table('cases')
