"""`flask --app wsgi demo load`: a fresh instance gets the sample district and two months of field work that
shows every state the pages have (visited, questionable, not visited, conflicts, photos with thumbnails)."""
import datetime as dt

from sqlalchemy import func, select

from server.db import session_scope
from server.models import User, UserArea
from sync.demo import DemoSubmission, demo_roster, generate, household_infos
from sync.models import Area, Household, Job, Submission, SubmissionAttachment
from sync.monitoring_models import MonitoringCase
from sync.outside_models import OutsideDecision, OutsideReport
from sync.records import Conflict, Finding, HouseholdRecord, Visit

CHINA = dt.timezone(dt.timedelta(hours=8))


def months_now() -> tuple[str, str]:
    today = dt.datetime.now(CHINA).date()
    last = today.replace(day=1) - dt.timedelta(days=1)
    return today.strftime("%Y-%m"), last.strftime("%Y-%m")


def count(session, statement) -> int:
    return session.scalar(select(func.count()).select_from(statement.subquery()))


def test_demo_load_fills_a_fresh_instance_with_two_months_of_visits(runner, sessions):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "admin-demo-pw" in result.output and "cadre009" in result.output  # the credentials are printed
    this_month, last_month = months_now()
    with session_scope(sessions) as session:
        # the sample roster's 113, and the household outside the roster a supervisor registered (应纳尽纳)
        assert session.scalar(select(func.count(Household.id))) == 114
        assert session.scalar(select(func.count(HouseholdRecord.household_id))) == 114
        decisions = dict(session.execute(select(OutsideReport.head_name, OutsideDecision.decision).outerjoin(
            OutsideDecision, OutsideDecision.root_instance_id == OutsideReport.root_instance_id)).all())
        assert decisions == {"韩桂兰": None, "周德明": "register", "吴春燕": "decline"}
        users = {u.username: u for u in session.scalars(select(User))}
        assert users["admin"].role == "admin"
        assert {f"cadre00{i}" for i in range(1, 10)} <= set(users)
        cadre_areas = session.scalars(select(Area.code).join(UserArea, UserArea.area_id == Area.id)
                                      .where(UserArea.user_id == users["cadre001"].id)).all()
        assert set(cadre_areas) == {"210504001001", "210504002002"}  # the villages of cadre001's households

        by_month = dict(session.execute(select(Visit.month, func.count(Visit.id)).group_by(Visit.month)).all())
        assert set(by_month) == {this_month, last_month}
        assert by_month[last_month] > 80 and by_month[this_month] > 60
        verdicts = dict(session.execute(select(Visit.verdict, func.count(Visit.id)).group_by(Visit.verdict)).all())
        assert verdicts["verified"] > verdicts["questionable"] > 0
        # DOMAIN.md Precisions: "A visit may also find nobody home (失联/不在家) … counts as an attempt"
        assert verdicts["attempt"] > 0
        reasons = {code for (codes,) in session.execute(select(Visit.reasons)) for code in codes}
        assert {"gps_far", "photo_missing", "photo_time_mismatch"} <= reasons

        not_this_month = count(session, select(Household.id).where(Household.id.not_in(
            select(Visit.household_id).where(Visit.month == this_month))))
        never = count(session, select(Household.id).where(Household.id.not_in(select(Visit.household_id))))
        assert not_this_month > never > 0

        assert session.scalar(select(func.count()).select_from(Conflict).where(Conflict.state == "open")) > 0
        # a cadre covering a household of another village: stored, held out of its record for the town supervisor
        held = session.scalars(select(Submission.reconcile_state).where(Submission.out_of_area.is_(True))).all()
        assert held == ["out_of_area"]
        codes = set(session.scalars(select(Finding.code)))
        assert {"dangerous_house", "income_drop"} <= codes
        # monitoring cases (防止返贫监测): proposals from the flags and visits, and a few decided, in every state
        # but 风险消除 (which waits months after 纳入)
        cases = dict(session.execute(select(MonitoringCase.state, func.count()).group_by(MonitoringCase.state)).all())
        assert cases["proposed"] > 0 and cases["identified"] == 1 and cases["helped"] == 1 and cases["dismissed"] == 1
        # DOMAIN.md Precisions: "statuses 未脱贫/返贫 belong to 2020 and before" — a demo of today has none, and
        # its 监测户 keep their kinds
        statuses = dict(session.execute(select(Household.status, func.count()).group_by(Household.status)).all())
        assert set(statuses) == {"已脱贫", "监测户"}
        assert session.scalar(select(func.count()).where(Household.status == "监测户",
                                                         Household.monitoring_type.is_(None))) == 0

        # every photo that arrived was checked and has a thumbnail; some named photos never arrived
        photos = session.execute(select(SubmissionAttachment.sha256, SubmissionAttachment.image_check,
                                        SubmissionAttachment.thumb_sha256)).all()
        received = [p for p in photos if p.sha256]
        assert len(received) > 150
        assert all(p.image_check == "ok" and p.thumb_sha256 for p in received)
        assert any(p.sha256 is None for p in photos)
        assert session.scalar(select(func.count(Job.id))) == 0  # the worker ran until idle, nothing failed
        submitted = session.scalar(select(func.count(Submission.id)))
        # every submission is in its record but the one held for the supervisor (checked above)
        assert set(session.scalars(select(Submission.reconcile_state))) == {"applied", "out_of_area", "report"}

    # a second run is refused; with --force it finds everything already there and adds nothing
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 1 and "--force" in again.output and "114" in again.output
    forced = runner.invoke(args=["demo", "load", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "already there" in forced.output and "password unchanged" in forced.output
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Submission.id))) == submitted


def test_demo_load_refuses_an_instance_that_has_households(runner, areas, make_household, sessions):
    make_household("2105040010010999", areas["village11"])
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 1
    assert "already has 1 households" in result.output
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(Submission.id))) == 0


def test_the_generator_is_deterministic_and_never_dates_a_form_in_the_future(sample_district, sessions):
    with session_scope(sessions) as session:
        infos = household_infos(session)
    now = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)  # 09:30 on the 2nd, China time

    def fingerprint(items: list[DemoSubmission]):
        return [(s.instance_id, s.sender, s.xml, s.files) for s in items]

    first = generate(infos, now, seed=7)
    assert fingerprint(first) == fingerprint(generate(infos, now, seed=7))
    assert fingerprint(first) != fingerprint(generate(infos, now, seed=8))
    assert all(s.observed_at <= now for s in first)
    assert {s.observed_at.astimezone(CHINA).strftime("%Y-%m") for s in first} == {"2026-02", "2026-03"}
    assert len({s.instance_id for s in first}) == len(first)


def test_the_demos_help_is_concrete_measures_never_gifts(sample_district, sessions):
    """DOMAIN.md Precisions: "A visit is not help: the seeds forbid 慰问式、走访式帮扶 (004). Help given is a concrete
    measure (job referral, subsidy applied for, repair arranged…), never gifts"."""
    with session_scope(sessions) as session:
        infos = household_infos(session)
    visits = [s.xml.decode() for s in generate(infos, dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc), seed=7)
              if b"household_visit" in s.xml[:200]]
    given = [v.split("<help_given>")[1].split("</help_given>")[0] for v in visits if "<help_given>" in v]
    assert any(given) and all(set(g.split()) <= {"job", "aid", "housing", "industry", "policy", "other"} for g in given)
    assert not any(gift in v for v in visits for gift in ("米面油", "慰问"))


def test_the_demo_roster_keeps_the_poverty_period_statuses_only_before_2021():
    """DOMAIN.md Precisions: "After 2020 the figure in force is a monitoring range …; statuses 未脱贫/返贫 belong to
    2020 and before"."""
    assert "未脱贫" in demo_roster(monitoring_period=False).decode("utf-8")
    later = demo_roster(monitoring_period=True).decode("utf-8")
    assert "未脱贫" not in later and "返贫" not in later
