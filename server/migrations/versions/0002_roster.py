"""roster: household fields, members, entity lists

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import server.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('entity_lists',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_entity_lists'))
    )
    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('sex', sa.String(length=2), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('schooling', sa.String(length=16), nullable=False),
    sa.Column('insured', sa.Boolean(), nullable=False),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('labour', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_members_household_id_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_id_number'), ['id_number'], unique=False)

    # existing rows get defaults: a household imported before this had no status, roster version 1
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False, server_default='未脱贫'))
        batch_op.add_column(sa.Column('poverty_cause', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('cadre', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('roster_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('roster_fingerprint', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('updated_at', server.db.UTCDateTime(timezone=True), nullable=False,
                                      server_default=sa.func.now()))
        batch_op.create_index(batch_op.f('ix_households_cadre'), ['cadre'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_cadre'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('roster_fingerprint')
        batch_op.drop_column('roster_version')
        batch_op.drop_column('cadre')
        batch_op.drop_column('poverty_cause')
        batch_op.drop_column('status')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_id_number'))
        batch_op.drop_index(batch_op.f('ix_members_household_id'))

    op.drop_table('members')
    op.drop_table('entity_lists')
