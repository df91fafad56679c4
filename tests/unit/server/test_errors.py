"""Domain refusals become HTTP at the edge: every kind of DomainError has one status, given in one table."""
import pytest

from server.errors import KINDS, DomainError
from server.render import STATUS_OF_KIND, problem_from


def test_every_kind_of_domain_error_has_an_http_status():
    assert set(STATUS_OF_KIND) == KINDS


@pytest.mark.parametrize(("kind", "status"), [("invalid", 400), ("forbidden", 403), ("not_found", 404),
                                              ("conflict", 409), ("too_large", 413)])
def test_a_domain_error_keeps_its_code_message_and_details_as_a_problem(kind, status):
    problem = problem_from(DomainError(kind, "sync.example", "中文", "English", details={"row": 3}))
    assert (problem.status, problem.code, problem.message_zh, problem.message_en, problem.details) == (
        status, "sync.example", "中文", "English", {"row": 3})


def test_a_domain_error_of_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        DomainError("teapot", "sync.example", "中文", "English")
