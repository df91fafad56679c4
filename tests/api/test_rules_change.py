"""A changed rules file (ZOUFANG_RULES_FILE) refolds the records in the background: every record carries the digest of
the rules it was folded with, and a worker that starts with other rules queues the refold of the records whose digest
differs, with its progress in the log and on the admin page."""
import logging
import time

from sqlalchemy import func, select, update

from server.app import create_app
from server.config import load_settings
from server.db import session_scope
from support import login
from sync.jobs import queue_refolds
from sync.reconcile import stale_records
from sync.records import Finding, HouseholdRecord
from sync.rules import BUNDLED_RULES, load_rules

HOUSEHOLDS = 113   # the sample district's


def findings(sessions, code):
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(Finding).where(Finding.code == code))


def digests(sessions):
    with session_scope(sessions) as session:
        return dict(session.execute(select(HouseholdRecord.rules_digest, func.count())
                                    .group_by(HouseholdRecord.rules_digest)).all())


def rules_status(client):
    page = client.get("/admin/").get_data(as_text=True)
    return next(line for line in page.splitlines() if 'data-testid="rules-status"' in line)


def test_a_changed_threshold_refolds_the_records_in_the_background(app, client, sample_district, admin, sessions,
                                                                   work, tmp_path, database_url, caplog):
    work()
    bundled = load_rules()
    assert digests(sessions) == {bundled.digest: HOUSEHOLDS}
    login(client, "admin")
    assert "所有户的记录都按现行规则计算" in rules_status(client)
    before = findings(sessions, "school_age_not_in_school")
    changed = tmp_path / "rules.toml"   # compulsory schooling up to 99: grown-ups out of school are findings now
    changed.write_text(BUNDLED_RULES.read_text(encoding="utf-8").replace("school_age_max = 15", "school_age_max = 99"),
                       encoding="utf-8")
    caplog.set_level(logging.INFO, logger="zoufang.worker")
    restarted = create_app(load_settings(env={"ZOUFANG_RULES_FILE": str(changed)}, data_dir=tmp_path / "data",
                                         database_url=database_url, publish_bundled_forms=False,
                                         migrate_on_start=False, secret_key="test-secret", worker="thread"))
    rt = restarted.extensions["zoufang"]
    try:
        assert rt.queue.rules.digest != bundled.digest
        deadline = time.monotonic() + 30
        while digests(sessions) != {rt.queue.rules.digest: HOUSEHOLDS} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert digests(sessions) == {rt.queue.rules.digest: HOUSEHOLDS}   # no `reconcile rebuild` was run
        assert findings(sessions, "school_age_not_in_school") > before
        assert "rules changed: refolded part 1 of 1" in caplog.text   # 113 households, one batch
        assert queue_refolds(rt.sessions, rt.queue) == 0                  # nothing is left to refold
        page = restarted.test_client()
        login(page, "admin")
        assert "所有户的记录都按现行规则计算" in rules_status(page)
    finally:
        rt.worker.stop()
        rt.worker.join(5)
        rt.engine.dispose()
    # the first app still runs the bundled rules: to it, every record is stale until its worker refolds them
    assert f"0 / {HOUSEHOLDS} 户" in rules_status(client)


def test_a_rules_file_that_differs_only_in_comments_refolds_nothing(tmp_path):
    commented = tmp_path / "rules.toml"
    commented.write_text("# a province's copy\n" + BUNDLED_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_rules(commented).digest == load_rules().digest


def test_the_admin_page_counts_a_refold_under_way(client, sample_district, admin, sessions, work):
    work()
    login(client, "admin")
    with session_scope(sessions) as session:   # a refold that has done all but 13 households
        ids = session.scalars(select(HouseholdRecord.household_id).order_by(HouseholdRecord.household_id).limit(13))
        session.execute(update(HouseholdRecord).where(HouseholdRecord.household_id.in_(list(ids)))
                        .values(rules_digest="0" * 64))
        assert stale_records(session, load_rules().digest) == (13, HOUSEHOLDS)
    assert f"{HOUSEHOLDS - 13} / {HOUSEHOLDS} 户" in rules_status(client) and "其余 13 户" in rules_status(client)
    with session_scope(sessions) as session:   # a record never folded (no digest yet) is stale too
        session.execute(update(HouseholdRecord).values(rules_digest=None))
        assert stale_records(session, load_rules().digest) == (HOUSEHOLDS, HOUSEHOLDS)
