"""outside_reports: households reported from outside the roster (应纳尽纳) and the decisions on them (issue 19)

Revision ID: 0027
Revises: 0026
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outside_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('root_instance_id', sa.String(length=255), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('monitoring_type', sa.String(length=16), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('household_number', sa.String(length=32), nullable=True),
    sa.Column('cadre', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('by_name', sa.String(length=100), nullable=False),
    sa.Column('at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('register','decline')", name=op.f('ck_outside_decisions_decision_known')),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_outside_decisions_by_id_users')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_outside_decisions_household_id_households'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outside_decisions')),
    sa.UniqueConstraint('root_instance_id', name=op.f('uq_outside_decisions_root_instance_id'))
    )
    op.create_table('outside_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('root_instance_id', sa.String(length=255), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.String(length=255), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('head_name', sa.String(length=100), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('duplicate_household_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_outside_reports_area_id_areas')),
    sa.ForeignKeyConstraint(['duplicate_household_id'], ['households.id'], name=op.f('fk_outside_reports_duplicate_household_id_households'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_outside_reports_reporter_id_users')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_outside_reports_submission_id_submissions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['village_id'], ['areas.id'], name=op.f('fk_outside_reports_village_id_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outside_reports')),
    sa.UniqueConstraint('root_instance_id', name=op.f('uq_outside_reports_root_instance_id'))
    )
    with op.batch_alter_table('outside_reports', schema=None) as batch_op:
        batch_op.create_index('ix_outside_reports_area_reported', ['area_id', 'reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outside_reports_submission_id'), ['submission_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outside_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outside_reports_submission_id'))
        batch_op.drop_index('ix_outside_reports_area_reported')

    op.drop_table('outside_reports')
    op.drop_table('outside_decisions')
