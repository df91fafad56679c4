"""Feedback to the cadre (issue 15): a submission a supervisor marks 有问题 or 退回 goes back to its sender, who
answers with an edit, a new visit or a reply; the supervisor sees the answer. API, pages and rebuild."""
import re

import pytest
from sqlalchemy import select

from server.db import session_scope
from support import Collect, login, new_instance_id, visit_xml
from test_query_bounds import BAD_NUMBERS, assert_page_400
from sync.feedback import feedback_counts, returned_to
from sync.models import Submission
from sync.review_models import ReviewComment

HH = "2105040010010001"        # village 1 (town 1), cadre001's
HH2 = "2105040010010007"       # village 1 too
COMMENT = "照片时间与走访时间不符，请重新入户拍照"


@pytest.fixture
def district(sample_district, make_user, reconcile):
    codes = sample_district["codes"]
    sample_district["town2"] = make_user("town2", "supervisor", (codes["210504002"],))
    sample_district["cadre1b"] = make_user("cadre001b", "cadre", (codes["210504001001"],))
    # the worker reads each new submission and keeps whether it answers what was returned to its sender
    sample_district["worker"] = reconcile
    return sample_district


def send(client, headers, xml):
    response = Collect(client, headers).submit(xml)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture
def returned(client, district, reconcile):
    """cadre001's visit of HH, reconciled, then marked 有问题 with a comment by town1; its instance id."""
    instance_id = new_instance_id()
    send(client, district["cadre1"], visit_xml(HH, instance_id=instance_id))
    reconcile()
    response = client.post(review_url(instance_id), json={"state": "has_issues", "comment": COMMENT},
                           headers=district["town1"])
    assert response.status_code == 200, response.get_data(as_text=True)
    return instance_id


def review_url(instance_id, what="review"):
    return f"/api/v1/submissions/household_visit/{instance_id}/{what}"


def feedback(client, headers, query=""):
    response = client.get(f"/api/v1/feedback{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def states(client, headers):
    return {item["instance_id"]: item["state"] for item in feedback(client, headers)["items"]}


def answer_by_edit(client, district, instance_id):
    edit = new_instance_id()
    send(client, district["cadre1"], visit_xml(HH, instance_id=edit, deprecated_id=instance_id,
                                               end="2026-11-22T10:00:00+08:00"))
    district["worker"]()
    return edit


def answer_by_visit(client, district, instance_id):
    later = new_instance_id()
    send(client, district["cadre1"], visit_xml(HH, instance_id=later, end="2026-11-23T10:00:00+08:00"))
    district["worker"]()
    return later


def answer_by_reply(client, district, instance_id):
    response = client.post(review_url(instance_id), json={"comment": "已重新入户，照片时间是手机时钟错了"},
                           headers=district["cadre1"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["comments"][-1]["from_submitter"] is True
    return None


ANSWERS = {"edit": answer_by_edit, "visit": answer_by_visit, "reply": answer_by_reply}


# ---- the cadre gets it ---------------------------------------------------------------------------------------

def test_a_returned_submission_reaches_its_sender_with_the_comment(client, district, returned):
    body = feedback(client, district["cadre1"])
    assert body["total"] == 1
    [item] = body["items"]
    assert (item["instance_id"], item["form_id"], item["household"], item["head_name"]) == (
        returned, "household_visit", HH, item["head_name"])
    assert item["head_name"] and item["visit_date"] == "2026-11-20"
    assert (item["review_state"], item["state"], item["answered"], item["comment"], item["reviewer"]) == (
        "has_issues", "waiting", False, COMMENT, "town1")
    assert item["answer"] is None and item["returned_at"]
    assert feedback(client, district["cadre2"])["total"] == 0
    assert feedback(client, district["cadre1b"])["total"] == 0  # same village, not the sender


def test_approved_or_merely_received_submissions_are_not_returned(client, district, returned):
    client.post(review_url(returned), json={"state": "approved"}, headers=district["town1"])
    assert feedback(client, district["cadre1"])["total"] == 0


@pytest.mark.parametrize("how", sorted(ANSWERS))
def test_each_answer_takes_it_out_of_waiting_and_the_supervisor_sees_it(client, district, returned, sessions, how):
    assert states(client, district["town1"]) == {returned: "waiting"}
    answering = ANSWERS[how](client, district, returned)
    assert states(client, district["cadre1"]) == {returned: "answered"}
    assert feedback(client, district["cadre1"], "?state=waiting")["total"] == 0
    [item] = feedback(client, district["town1"], "?state=answered")["items"]
    assert item["answer"]["kind"] == how and item["answer"]["instance_id"] == answering
    if how == "reply":
        assert item["answer"]["body"] == "已重新入户，照片时间是手机时钟错了"
    with session_scope(sessions) as session:
        cadre = session.scalar(select(Submission.submitter_id).where(Submission.instance_id == returned))
        assert feedback_counts(session, user=cadre) == {"waiting": 0, "answered": 1}
        [mine] = returned_to(session, cadre)
        assert mine.answered and mine.comment == COMMENT


@pytest.mark.parametrize("how", ["edit", "visit"])
def test_reviewing_the_answer_settles_it(client, district, returned, how):
    answering = ANSWERS[how](client, district, returned)
    assert client.post(review_url(answering), json={"state": "approved"},
                       headers=district["town1"]).status_code == 200
    assert feedback(client, district["town1"])["total"] == 0
    assert feedback(client, district["cadre1"])["total"] == 0


def test_a_reply_waits_until_the_supervisor_decides_and_a_new_comment_asks_again(client, district, returned):
    answer_by_reply(client, district, returned)
    client.post(review_url(returned), json={"comment": "请补拍合影"}, headers=district["town1"])
    [item] = feedback(client, district["cadre1"])["items"]
    assert (item["state"], item["comment"]) == ("waiting", "请补拍合影")
    client.post(review_url(returned), json={"state": "approved"}, headers=district["town1"])
    assert feedback(client, district["town1"])["total"] == 0


def test_a_visit_by_someone_else_or_of_another_household_does_not_answer(client, district, returned, reconcile):
    send(client, district["cadre1b"], visit_xml(HH, username="cadre001b", end="2026-11-23T10:00:00+08:00"))
    send(client, district["cadre1"], visit_xml(HH2, end="2026-11-23T10:00:00+08:00"))
    reconcile()
    assert states(client, district["cadre1"]) == {returned: "waiting"}


def test_a_visit_sent_before_the_return_does_not_answer_it(client, district, reconcile):
    first, second = new_instance_id(), new_instance_id()
    send(client, district["cadre1"], visit_xml(HH, instance_id=first))
    send(client, district["cadre1"], visit_xml(HH, instance_id=second, end="2026-11-21T10:00:00+08:00"))
    reconcile()
    client.post(review_url(first), json={"state": "rejected", "comment": COMMENT}, headers=district["town1"])
    assert states(client, district["cadre1"]) == {first: "waiting"}


def test_the_newest_visit_answers_every_returned_visit_of_the_household(client, district):
    first, second = new_instance_id(), new_instance_id()
    send(client, district["cadre1"], visit_xml(HH, instance_id=first))
    send(client, district["cadre1"], visit_xml(HH, instance_id=second, end="2026-11-21T10:00:00+08:00"))
    client.post(review_url(first), json={"state": "has_issues", "comment": COMMENT}, headers=district["town1"])
    client.post(review_url(second), json={"state": "rejected", "comment": "缺少合影"}, headers=district["town1"])
    later = answer_by_visit(client, district, first)
    items = feedback(client, district["town1"])["items"]
    assert {(i["instance_id"], i["state"], i["answer"]["instance_id"]) for i in items} == {
        (first, "answered", later), (second, "answered", later)}


def test_returning_the_answer_settles_what_it_answered_and_returns_the_answer(client, district, returned):
    later = answer_by_visit(client, district, returned)
    client.post(review_url(later), json={"state": "has_issues", "comment": "缺少合影"}, headers=district["town1"])
    assert states(client, district["cadre1"]) == {later: "waiting"}


def test_the_counts_on_both_sides(client, district, returned, sessions):
    other = new_instance_id()
    send(client, district["cadre1"], visit_xml(HH2, instance_id=other))
    client.post(review_url(other), json={"state": "rejected", "comment": "不是本户"}, headers=district["town1"])
    answer_by_reply(client, district, returned)
    with session_scope(sessions) as session:
        cadre = session.scalar(select(Submission.submitter_id).where(Submission.instance_id == returned))
        assert feedback_counts(session, user=cadre) == {"waiting": 1, "answered": 1}
    for who in ("town1", "cadre1"):
        assert {i["instance_id"]: i["state"] for i in feedback(client, district[who])["items"]} == {
            other: "waiting", returned: "answered"}
    assert [i["instance_id"] for i in feedback(client, district["town1"])["items"]] == [other, returned]


# ---- who may do what -------------------------------------------------------------------------------------------

def test_a_cadre_may_not_set_a_state_even_on_their_own_submission(client, district, returned):
    response = client.post(review_url(returned), json={"state": "approved", "comment": "好了"},
                           headers=district["cadre1"])
    assert response.status_code == 403 and response.get_json()["code"] == "review.reviewers_only"


def test_a_cadre_may_not_comment_on_someone_elses_submission(client, district, returned):
    response = client.post(review_url(returned), json={"comment": "我来回复"}, headers=district["cadre1b"])
    assert response.status_code == 403 and response.get_json()["code"] == "feedback.not_sender"
    response = client.post(review_url(returned), json={"comment": "我来回复"}, headers=district["cadre2"])
    assert response.status_code == 404  # another village: as if it did not exist


def test_an_empty_reply_is_refused(client, district, returned):
    response = client.post(review_url(returned), json={"comment": "  "}, headers=district["cadre1"])
    assert response.status_code == 400 and response.get_json()["code"] == "feedback.reply_empty"


def test_another_areas_feedback_is_not_listed_and_its_area_is_404(client, district, returned):
    assert feedback(client, district["town2"])["total"] == 0
    response = client.get("/api/v1/feedback?area=210504001", headers=district["town2"])
    assert response.status_code == 404
    assert feedback(client, district["town1"], "?area=210504001")["total"] == 1


@pytest.mark.parametrize("query, name", [("?limit=0", "limit"), ("?limit=1001", "limit"), ("?offset=-1", "offset"),
                                         ("?offset=99999999999", "offset"), ("?state=settled", "state")])
def test_bad_paging_or_state_is_a_400_naming_the_parameter(client, district, query, name):
    response = client.get(f"/api/v1/feedback{query}", headers=district["town1"])
    assert response.status_code == 400 and name in response.get_json()["details"]


@pytest.mark.parametrize("value", BAD_NUMBERS + ["0"])
def test_the_feedback_page_refuses_bad_page_numbers(client, district, value):
    login(client, "town1")
    assert_page_400(client.get("/feedback/", query_string={"page": value}))


def test_the_feedback_page_answers_another_areas_filter_with_404(client, district):
    login(client, "town2")
    assert client.get("/feedback/?area=210504001").status_code == 404


def test_the_feedback_list_is_described_in_openapi(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/feedback"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"state", "area", "limit", "offset"}


def test_rebuild_leaves_the_feedback_unchanged(client, district, returned, runner, sessions, reconcile):
    other = new_instance_id()
    send(client, district["cadre1"], visit_xml(HH2, instance_id=other))
    reconcile()
    client.post(review_url(other), json={"state": "rejected", "comment": "不是本户"}, headers=district["town1"])
    answer_by_visit(client, district, returned)
    answer_by_reply(client, district, other)
    reconcile()
    before = feedback(client, district["town1"])
    result = runner.invoke(args=["reconcile", "rebuild"])
    assert result.exit_code == 0, result.output
    assert feedback(client, district["town1"]) == before
    assert {i["answer"]["kind"] for i in before["items"]} == {"visit", "reply"}
    with session_scope(sessions) as session:
        assert session.scalar(select(ReviewComment.id).where(ReviewComment.from_submitter.is_(True))) is not None


# ---- pages -----------------------------------------------------------------------------------------------------

def csrf(client, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def page_of(client, path, status=200):
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def submission_path(instance_id, number=HH):
    return f"/households/{number}/submissions/household_visit/{instance_id}"


def test_the_cadre_sees_the_return_on_the_household_file_and_the_submission(client, district, returned):
    login(client, "cadre001")
    file_page = page_of(client, f"/households/{HH}")
    assert 'data-testid="household-returned"' in file_page and COMMENT in file_page
    assert 'data-testid="timeline-returned"' in file_page and submission_path(returned) in file_page
    view = page_of(client, submission_path(returned))
    assert 'data-testid="submission-returned"' in view and COMMENT in view and "待整改" in view
    assert 'data-testid="reply-form"' in view
    assert "待整改" in page_of(client, "/feedback/")


def test_the_cadre_replies_on_the_page_and_the_supervisor_sees_the_reply(client, district, returned):
    login(client, "cadre001")
    path = submission_path(returned)
    response = client.post(f"/feedback/reply/household_visit/{returned}",
                           data={"csrf_token": csrf(client, path), "comment": "手机时间设置错了，已改正"})
    assert response.status_code == 302 and response.headers["Location"].endswith(path)
    view = page_of(client, path)
    assert "已答复" in view and "手机时间设置错了，已改正" in view and "填报人回复" in view
    file_page = page_of(client, f"/households/{HH}")
    assert 'data-state="answered"' in file_page and 'data-state="waiting"' not in file_page
    client.get("/logout")
    login(client, "town1")
    listing = page_of(client, "/review/?feedback=answered")
    assert returned in listing and 'data-testid="feedback-state"' in listing and "已答复" in listing
    assert returned not in page_of(client, "/review/?feedback=waiting")
    review = page_of(client, f"/review/submissions/household_visit/{returned}")
    assert 'data-kind="reply"' in review and "手机时间设置错了，已改正" in review


def test_an_empty_reply_on_the_page_says_so(client, district, returned):
    login(client, "cadre001")
    path = submission_path(returned)
    response = client.post(f"/feedback/reply/household_visit/{returned}",
                           data={"csrf_token": csrf(client, path), "comment": " "}, follow_redirects=True)
    assert "请填写回复" in response.get_data(as_text=True)


def test_the_supervisor_finds_an_edited_return_with_a_link_to_the_edit(client, district, returned):
    edit = answer_by_edit(client, district, returned)
    login(client, "town1")
    listing = page_of(client, "/review/?feedback=answered")
    assert returned in listing  # the returned version, although an edit replaced it
    review = page_of(client, f"/review/submissions/household_visit/{returned}")
    assert 'data-kind="edit"' in review and f"/review/submissions/household_visit/{edit}" in review
    answer = page_of(client, f"/review/submissions/household_visit/{edit}")
    assert 'data-testid="answers-returns"' in answer and returned in answer


def test_another_cadre_reads_the_return_but_may_not_reply(client, district, returned):
    login(client, "cadre001b")
    view = page_of(client, submission_path(returned))
    assert COMMENT in view and 'data-testid="reply-form"' not in view
    response = client.post(f"/feedback/reply/household_visit/{returned}",
                           data={"csrf_token": csrf(client, submission_path(returned)), "comment": "我来回复"})
    assert response.status_code == 403
    assert "没有退回的提交" in page_of(client, "/feedback/")


def test_another_areas_cadre_gets_404_everywhere(client, district, returned):
    login(client, "cadre002")
    page_of(client, f"/households/{HH}", 404)
    page_of(client, submission_path(returned), 404)
    response = client.post(f"/feedback/reply/household_visit/{returned}",
                           data={"csrf_token": csrf(client, "/feedback/"), "comment": "我来回复"})
    assert response.status_code == 404


def test_the_cadres_home_part_lists_what_was_returned_with_the_counts(app, client, district, returned, sessions):
    from flask import g, render_template
    from server.auth import Principal
    from server.models import User
    answer_by_reply(client, district, returned)
    with session_scope(sessions) as session:
        cadre = session.scalar(select(User).where(User.username == "cadre001"))
        items, counts = returned_to(session, cadre.id, limit=1), feedback_counts(session, user=cadre.id)
        with app.test_request_context("/"):
            g.principal = Principal(cadre)
            html = render_template("feedback/_home.html", returned=items, feedback_counts=counts)
    assert 'data-testid="home-returned"' in html and COMMENT in html and 'data-state="answered"' in html
    assert re.search(r'data-testid="feedback-count-answered"><strong>1</strong>', html)
    assert submission_path(returned) in html and 'data-testid="all-returned"' not in html


def test_the_feedback_page_counts_for_a_supervisor(client, district, returned):
    login(client, "town1")
    html = page_of(client, "/feedback/?state=waiting")
    assert re.search(r'data-testid="feedback-count-waiting"><strong>1</strong>', html)
    assert f"/review/submissions/household_visit/{returned}" in html


# ---- the kept states are the rule's --------------------------------------------------------------------------

def derived_and_kept(sessions):
    """{submission id: (state by the rule, kept state)} for every returned submission."""
    from sync.feedback_state import derived_states, returned_rows
    with session_scope(sessions) as session:
        derived = {row.id: row.state for row in session.execute(derived_states(returned_rows()))}
        kept = dict(session.execute(select(Submission.id, Submission.feedback_state)
                                    .where(Submission.review_state.in_(("has_issues", "rejected")))).all())
    return derived, kept


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_the_kept_states_are_the_rules_after_any_order_of_events(client, district, sessions, reconcile, seed):
    """Returns, edits, new visits, replies, comments and approvals in a random order: after each, every returned
    submission's kept state (what the lists count) is the one the rule derives from the facts."""
    import random
    rng = random.Random(seed)
    chains = {}  # household → its visit's current instance id
    for number in (HH, HH2):
        chains[number] = new_instance_id()
        send(client, district["cadre1"], visit_xml(number, instance_id=chains[number]))
    reconcile()
    seen = set()
    for step in range(14):
        number = rng.choice((HH, HH2))
        action = rng.choice(("return", "return", "return", "edit", "edit", "visit", "visit", "reply", "comment",
                             "approve"))
        if action == "return":
            client.post(review_url(chains[number]), json={"state": rng.choice(("has_issues", "rejected")),
                                                          "comment": COMMENT}, headers=district["town1"])
        elif action == "edit":
            edit = new_instance_id()
            send(client, district["cadre1"], visit_xml(number, instance_id=edit, deprecated_id=chains[number],
                                                       end=f"2026-11-2{step % 9}T10:00:00+08:00"))
            chains[number] = edit
        elif action == "visit":
            chains[number] = new_instance_id()
            send(client, district["cadre1"], visit_xml(number, instance_id=chains[number],
                                                       end=f"2026-11-2{step % 9}T11:00:00+08:00"))
        elif action == "reply":
            client.post(review_url(chains[number]), json={"comment": "已整改"}, headers=district["cadre1"])
        elif action == "comment":
            client.post(review_url(chains[number]), json={"comment": "请补拍"}, headers=district["town1"])
        else:
            client.post(review_url(chains[number]), json={"state": "approved"}, headers=district["town1"])
        reconcile()
        derived, kept = derived_and_kept(sessions)
        assert kept == derived, (step, action)
        seen.update(derived.values())
    assert {"waiting", "answered", "settled"} <= seen  # the sequence went through every state


def test_a_starting_worker_keeps_the_states_of_submissions_returned_before_they_were_kept(
        app, client, district, returned, sessions):
    """Rows returned before the columns existed (the migration adds them empty) get their state when a worker
    starts."""
    from sqlalchemy import update

    from sync.jobs import queue_start_work
    answer_by_reply(client, district, returned)
    with session_scope(sessions) as session:
        session.execute(update(Submission).values(feedback_state=None, returned_at=None))
    assert feedback(client, district["cadre1"])["total"] == 0
    queue_start_work(sessions, app.extensions["zoufang"].queue)
    derived, kept = derived_and_kept(sessions)
    assert kept == derived and set(kept.values()) == {"answered"}
    assert states(client, district["cadre1"]) == {returned: "answered"}
