"""The same photo used twice: a photo (the same content, by its sha256) that another household's submission also
carries, or that the same household's submissions of two different months carry, is a data-quality finding on
each of them (DOMAIN.md "Visit coverage": the evidence is a photo taken then and there; the seeds warn against
数字脱贫, 弄虚作假 — a photo used again proves nothing of the second visit).

`uses_of` finds the current submissions carrying the batch's hashes through the index on
submission_attachments.sha256 (tests/api/test_query_plans.py checks its plan), so the cost follows the photos
reconciled, not the province. `reuse_findings` is pure. A household's findings are written only when it is
reconciled, so the other households a reconcile finds sharing (or no longer sharing) a photo are told by
`partners_to_reconcile`: those whose stored findings do not say what the photos now say are reconciled again.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.models import Household, Submission, SubmissionAttachment
from sync.records import Finding

OTHER_HOUSEHOLD, OTHER_MONTH = "photo_other_household", "photo_other_month"
#: the other uses a finding names (it counts them all)
SHOWN = 5
#: hashes per lookup, well under every database's limit on bound parameters
LOOKUP = 500


@dataclasses.dataclass(frozen=True)
class Use:
    """A current submission carrying a photo."""
    sha256: str
    submission_id: int
    instance_id: str
    household: str | None
    filename: str


def uses_of(session: Session, hashes: Iterable[str]) -> list[Use]:
    """Every attachment with one of these hashes of a submission in a household's record (current, applied: a
    submission waiting for a supervisor or naming no household is in no record, and one not yet reconciled finds
    the others when it is)."""
    wanted = sorted(set(hashes))
    uses = []
    for start in range(0, len(wanted), LOOKUP):
        uses += [Use(*row) for row in session.execute(
            select(SubmissionAttachment.sha256, Submission.id, Submission.instance_id, Submission.household_number,
                   SubmissionAttachment.filename)
            .join(Submission, Submission.id == SubmissionAttachment.submission_id)
            .where(SubmissionAttachment.sha256.in_(wanted[start:start + LOOKUP]), Submission.current.is_(True),
                   Submission.reconcile_state == "applied"))]
    return uses


def reuse_findings(own: list[Use], uses: list[Use], months: dict[int, str]) -> list[dict[str, Any]]:
    """The findings of a household's photos (`own`, one household's uses) among every use of their hashes.
    `months`: submission id → the month ("YYYY-MM") of the form's date, for the household's own submissions."""
    by_hash: dict[str, list[Use]] = defaultdict(list)
    for use in uses:
        by_hash[use.sha256].append(use)
    found = []
    for use in own:
        elsewhere = {u.submission_id: u for u in by_hash[use.sha256] if u.household != use.household}
        if elsewhere:
            others = sorted(elsewhere.values(), key=lambda u: (u.household or "", u.instance_id))
            shown = "、".join(u.household or "?" for u in others[:SHOWN]), ", ".join(u.household or "?"
                                                                                 for u in others[:SHOWN])
            more = len(others) > SHOWN
            found.append({"code": OTHER_HOUSEHOLD,
                          "message_zh": f"提交 {use.instance_id} 的照片 {use.filename} 也出现在其他户的提交中："
                                        f"{shown[0]}{'等' if more else ''}（共 {len(others)} 份）",
                          "message_en": f"The photo {use.filename} of submission {use.instance_id} is also in "
                                        f"other households' submissions: {shown[1]}{' and more' if more else ''} "
                                        f"({len(others)} in all)",
                          "details": _details(use, others)})
        month = months.get(use.submission_id)
        other_months = {u.submission_id: u for u in by_hash[use.sha256]
                        if u.household == use.household and months.get(u.submission_id) not in (None, month)}
        if month and other_months:
            others = sorted(other_months.values(), key=lambda u: (months[u.submission_id], u.instance_id))
            listed = sorted({months[u.submission_id] for u in others})
            found.append({"code": OTHER_MONTH,
                          "message_zh": f"提交 {use.instance_id}（{month}）的照片 {use.filename} 也用于本户 "
                                        f"{'、'.join(listed)} 的提交",
                          "message_en": f"The photo {use.filename} of submission {use.instance_id} ({month}) is "
                                        f"also in this household's submissions of {', '.join(listed)}",
                          "details": {**_details(use, others), "month": month, "other_months": listed}})
    return found


def _details(use: Use, others: list[Use]) -> dict[str, Any]:
    return {"instance_id": use.instance_id, "filename": use.filename, "sha256": use.sha256, "count": len(others),
            "others": [{"household": u.household, "instance_id": u.instance_id} for u in others[:SHOWN]]}


def stored_hashes(session: Session, household_ids: list[int]) -> set[str]:
    """The hashes these households' stored findings say are shared with another household (read before the
    findings are written again, so that a household no longer sharing a photo is told too)."""
    if not household_ids:
        return set()
    return {details.get("sha256") for details in session.scalars(
        select(Finding.details).where(Finding.household_id.in_(household_ids), Finding.code == OTHER_HOUSEHOLD))
        if isinstance(details, dict) and details.get("sha256")}


def partners_to_reconcile(session: Session, batch: set[str], uses: list[Use]) -> list[str]:
    """The households outside the batch carrying one of these photos whose stored findings do not count the
    other households' uses as the photos now do. Each is reconciled again once: then its findings agree, and a
    reconcile of it finds the batch's findings agreeing in turn, so the telling stops."""
    by_hash: dict[str, list[Use]] = defaultdict(list)
    for use in uses:
        by_hash[use.sha256].append(use)
    expected: dict[tuple[str, str], int] = {}
    for sha, carriers in by_hash.items():
        for household in {u.household for u in carriers} - batch - {None}:
            expected[(household, sha)] = len({u.submission_id for u in carriers if u.household != household})
    partners = sorted({household for household, _sha in expected})
    if not partners:
        return []
    stored: dict[tuple[str, str], set[int]] = defaultdict(set)
    for number, details in session.execute(
            select(Household.number, Finding.details).join(Finding, Finding.household_id == Household.id)
            .where(Household.number.in_(partners), Finding.code == OTHER_HOUSEHOLD)):
        if isinstance(details, dict) and details.get("sha256") in by_hash:
            stored[(number, details["sha256"])].add(details.get("count"))
    return sorted({household for (household, sha), count in expected.items()
                   if stored.get((household, sha), set()) != ({count} if count else set())})
