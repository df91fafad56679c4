"""reconciler: derived household records

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conflicts',
    sa.Column('key', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('current', sa.JSON(), nullable=True),
    sa.CheckConstraint("state IN ('open','resolved','superseded')", name=op.f('ck_conflicts_state_known')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_conflicts_area_id_areas')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_conflicts_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_conflicts'))
    )
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflicts_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conflicts_household_id'), ['household_id'], unique=False)

    op.create_table('findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('message_zh', sa.Text(), nullable=False),
    sa.Column('message_en', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.CheckConstraint("kind IN ('monitoring','quality')", name=op.f('ck_findings_kind_known')),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_findings_area_id_areas')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_findings_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings'))
    )
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.create_index('ix_findings_area_kind', ['area_id', 'kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_findings_household_id'), ['household_id'], unique=False)

    op.create_table('household_records',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('visits', sa.JSON(), nullable=False),
    sa.Column('assessments', sa.JSON(), nullable=False),
    sa.Column('incomes', sa.JSON(), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('exit_eligible', sa.Boolean(), nullable=False),
    sa.Column('open_conflicts', sa.Integer(), nullable=False),
    sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_household_records_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('household_id', name=op.f('pk_household_records'))
    )
    op.create_table('record_members',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_record_members_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('household_id', 'id_number', name=op.f('pk_record_members'))
    )
    with op.batch_alter_table('record_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_members_id_number'), ['id_number'], unique=False)

    op.create_table('resolutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conflict_key', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=False),
    sa.Column('resolved_by', sa.String(length=64), nullable=False),
    sa.Column('resolved_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_resolutions_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_resolutions_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resolutions')),
    sa.UniqueConstraint('conflict_key', name=op.f('uq_resolutions_conflict_key'))
    )
    with op.batch_alter_table('resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resolutions_household_id'), ['household_id'], unique=False)

    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('submitter_id', sa.Integer(), nullable=True),
    sa.Column('visit_date', sa.Date(), nullable=True),
    sa.Column('month', sa.String(length=7), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy', sa.Float(), nullable=True),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_visits_area_id_areas')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_visits_household_id_households'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_visits_submission_id_submissions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitter_id'], ['users.id'], name=op.f('fk_visits_submitter_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_visits_submission_id'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_area_month', ['area_id', 'month'], unique=False)
        batch_op.create_index('ix_visits_household_date', ['household_id', 'visit_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_submitter_id'), ['submitter_id'], unique=False)

    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('reconcile_state', sa.String(length=20), nullable=False,
                                      server_default='pending'))
        batch_op.add_column(sa.Column('reconciled_at', server.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('reconciled_at')
        batch_op.drop_column('reconcile_state')
        batch_op.drop_column('facts')

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_submitter_id'))
        batch_op.drop_index('ix_visits_household_date')
        batch_op.drop_index('ix_visits_area_month')

    op.drop_table('visits')
    with op.batch_alter_table('resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resolutions_household_id'))

    op.drop_table('resolutions')
    with op.batch_alter_table('record_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_members_id_number'))

    op.drop_table('record_members')
    op.drop_table('household_records')
    with op.batch_alter_table('findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_findings_household_id'))
        batch_op.drop_index('ix_findings_area_kind')

    op.drop_table('findings')
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflicts_household_id'))
        batch_op.drop_index(batch_op.f('ix_conflicts_area_id'))

    op.drop_table('conflicts')
