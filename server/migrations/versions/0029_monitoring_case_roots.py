"""monitoring cases keyed by the proposing submission's first version: a decision stored under the key an edit of
that submission gave its case is moved to the first version's key, and its household's record is marked for the
worker to fold again (its rules digest emptied), which rewrites the case under the kept key

Revision ID: 0029
Revises: 0028
"""
import hashlib

import sqlalchemy as sa
from alembic import op


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def case_key(number: str, instance_id: str) -> str:
    """sync.monitoring.case_key as it is at this revision (a migration never imports the application's code)."""
    return hashlib.sha256(f"{number}|monitoring|{instance_id}".encode("utf-8")).hexdigest()[:20]


def remap(connection) -> int:
    """Move each decision filed under an edit's key to its chain's first version's key; the number moved."""
    decided = connection.execute(sa.text(
        "SELECT d.id, d.case_key, d.household_id, h.number FROM monitoring_decisions d "
        "JOIN households h ON h.id = d.household_id")).all()
    numbers = sorted({row.number for row in decided})
    if not numbers:
        return 0
    edits = connection.execute(sa.text(
        "SELECT household_number, instance_id, root_instance_id FROM submissions WHERE household_number IN :numbers "
        "AND root_instance_id IS NOT NULL AND root_instance_id <> instance_id")
        .bindparams(sa.bindparam("numbers", expanding=True)), {"numbers": numbers}).all()
    kept = {case_key(number, edit): case_key(number, root) for number, edit, root in edits}
    moved = [(row.id, kept[row.case_key], row.household_id) for row in decided if row.case_key in kept]
    for decision_id, key, _household in moved:
        connection.execute(sa.text("UPDATE monitoring_decisions SET case_key = :key WHERE id = :id"),
                           {"key": key, "id": decision_id})
    for household_id in sorted({household for _id, _key, household in moved}):
        connection.execute(sa.text("UPDATE household_records SET rules_digest = '' WHERE household_id = :id"),
                           {"id": household_id})
    return len(moved)


def upgrade() -> None:
    remap(op.get_bind())


def downgrade() -> None:
    # the earlier keys are not wanted back: a decision under its first version's key was what the earlier code lost
    pass
