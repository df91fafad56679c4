"""GET /api/v1/submissions pages through a cursor (issue 16: "pagination stable while new submissions arrive"):
following each page's Link rel="next" visits every submission once, newest first, however many arrive meanwhile."""
import datetime as dt
import re

from sqlalchemy import select, update

from server.db import session_scope
from sync.models import Submission
from support import new_instance_id, submission_xml


def submit(collect, count):
    ids = [new_instance_id() for _ in range(count)]
    for instance_id in ids:
        assert collect.submit(submission_xml(instance_id=instance_id)).status_code == 201
    return ids


def next_link(response):
    link = response.headers.get("Link")
    return re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None


def walk(client, admin, url, between=None):
    seen = []
    while url:
        response = client.get(url, headers=admin)
        assert response.status_code == 200, response.get_json()
        seen += [s["instance_id"] for s in response.get_json()]
        url = next_link(response)
        if between and url:
            between()
    return seen


def test_pages_followed_by_their_cursor_show_each_submission_once_while_others_arrive(client, collect, admin):
    first = submit(collect, 7)
    arrived = []
    seen = walk(client, admin, "/api/v1/submissions?limit=3", between=lambda: arrived.extend(submit(collect, 2)))
    assert len(arrived) == 4  # two arrivals after each of the two full pages
    assert seen == list(reversed(first))  # all of them, once, newest first; the newcomers are for the next read
    offsets = [s["instance_id"] for o in (0, 3, 6, 9) for s in
               client.get(f"/api/v1/submissions?limit=3&offset={o}", headers=admin).get_json()]
    assert len(offsets) == len(first) + len(arrived)


def test_rows_received_at_the_same_instant_are_told_apart_by_their_order_of_arrival(client, collect, admin,
                                                                                    sessions):
    ids = submit(collect, 5)
    same = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.timezone.utc)
    with session_scope(sessions) as session:
        session.execute(update(Submission).values(received_at=same))
        order = session.scalars(select(Submission.instance_id).order_by(Submission.id.desc())).all()
    assert walk(client, admin, "/api/v1/submissions?limit=2") == order and sorted(order) == sorted(ids)


def test_the_link_keeps_the_filters_and_the_last_page_has_none(client, collect, admin):
    submit(collect, 3)
    response = client.get("/api/v1/submissions?limit=2&form_id=test_visit&offset=0", headers=admin)
    link = next_link(response)
    assert "form_id=test_visit" in link and "limit=2" in link and "offset" not in link
    last = client.get(link, headers=admin)
    assert len(last.get_json()) == 1 and next_link(last) is None


def test_a_cursor_not_made_by_the_api_is_a_400_naming_it(client, collect, admin):
    submit(collect, 1)
    for cursor in ("x", "bm90LWEtZGF0ZX4x", "MjAyNi0xMS0yMFQwMjowMDowMH4x", "A" * 200):
        response = client.get(f"/api/v1/submissions?after={cursor}", headers=admin)
        assert response.status_code == 400, cursor
        assert "after" in response.get_json()["details"]
