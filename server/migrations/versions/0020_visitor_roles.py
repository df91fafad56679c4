"""visiting duty roles (issue 15, 遍访): users.duty, the role a submission was received with, kept on its visit

users.duty is the account's 走访身份 (sync/visitor_roles.py), 'other' for every existing account until an admin
sets it. submissions.visitor_duty is the sender's role when the submission arrived, copied by the reconciler into
visits.visitor_duty; existing submissions keep null (their senders' roles at the time are not known), which no
duty counts. ix_visits_area_duty_month serves the duties' reads of one role's visits of an area over months.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duty', sa.String(length=20), server_default='other', nullable=False))
        batch_op.create_check_constraint(
            'duty_known', "duty IN ('paired','work_team','village_secretary','town_secretary','other')")
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visitor_duty', sa.String(length=20), nullable=True))
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visitor_duty', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_visits_area_duty_month',
                              ['area_id', 'visitor_duty', 'month'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_area_duty_month')
        batch_op.drop_column('visitor_duty')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('visitor_duty')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('duty_known', type_='check')
        batch_op.drop_column('duty')
