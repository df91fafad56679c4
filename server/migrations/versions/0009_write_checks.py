"""write checks: one current version per chain of edits, submissions held out of area and the decisions on them

Revision ID: 0009
Revises: 0007
"""
from collections import defaultdict

from alembic import op
import sqlalchemy as sa
import server.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('root_instance_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('out_of_area', sa.Boolean(), nullable=True))
    _backfill()
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.alter_column('root_instance_id', existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column('out_of_area', existing_type=sa.Boolean(), nullable=False)
        batch_op.create_index('uq_submissions_current_root', ['form_id', 'root_instance_id'], unique=True,
                              sqlite_where=sa.text('current'), postgresql_where=sa.text('current'))
    op.create_table('area_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=False),
    sa.Column('decided_by_name', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_at', server.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('accepted','rejected')", name=op.f('ck_area_decisions_decision_known')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_area_decisions_decided_by_users')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_area_decisions_submission_id_submissions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area_decisions')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_area_decisions_submission_id'))
    )


def _backfill() -> None:
    """Each row's chain root, found by following deprecatedID back; a chain that concurrent edits forked into
    several current versions keeps only its newest one current. Submissions received before this check are not
    judged again: none is held out of area."""
    submissions = sa.table('submissions', sa.column('id'), sa.column('form_id'), sa.column('instance_id'),
                           sa.column('deprecated_id'), sa.column('current'), sa.column('received_at'),
                           sa.column('root_instance_id'), sa.column('out_of_area'))
    connection = op.get_bind()
    rows = connection.execute(sa.select(submissions.c.id, submissions.c.form_id, submissions.c.instance_id,
                                        submissions.c.deprecated_id, submissions.c.current,
                                        submissions.c.received_at)).all()
    by_instance = {(r.form_id, r.instance_id): r for r in rows}

    def root(row) -> str:
        seen = set()
        while row.deprecated_id and (row.form_id, row.deprecated_id) in by_instance and row.id not in seen:
            seen.add(row.id)
            row = by_instance[(row.form_id, row.deprecated_id)]
        return row.instance_id

    roots = {r.id: root(r) for r in rows}
    current: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r.current:
            current[(r.form_id, roots[r.id])].append(r)
    retired = {r.id for versions in current.values()
               for r in sorted(versions, key=lambda r: (r.received_at, r.id))[:-1]}
    update = (sa.update(submissions).where(submissions.c.id == sa.bindparam('row_id'))
              .values(root_instance_id=sa.bindparam('root'), out_of_area=False, current=sa.bindparam('is_current')))
    if rows:
        connection.execute(update, [{'row_id': r.id, 'root': roots[r.id],
                                     'is_current': bool(r.current) and r.id not in retired} for r in rows])


def downgrade() -> None:
    op.drop_table('area_decisions')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('uq_submissions_current_root', sqlite_where=sa.text('current'),
                            postgresql_where=sa.text('current'))
        batch_op.drop_column('out_of_area')
        batch_op.drop_column('root_instance_id')
