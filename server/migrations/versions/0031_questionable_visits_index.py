"""visits: a partial index of the questionable ones (verdict questionable or no_evidence) on (month, area_id), so
that the supervisor's home and the review list count and page a month's questionable visits without reading the
month's others (issue 18: 434 ms of the admin's home over a province's 1.2M visits a month)

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

QUESTIONABLE = sa.text("verdict IN ('questionable', 'no_evidence')")


def upgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_questionable', ['month', 'area_id'], unique=False,
                              postgresql_where=QUESTIONABLE, sqlite_where=QUESTIONABLE)


def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_questionable')
