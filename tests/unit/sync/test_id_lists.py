"""sync/id_lists.py: a long list of area ids is one array parameter on PostgreSQL (issue 18: a county's 2,101 ids
bound one by one cost ~40 ms of planning per statement), and stays `IN` on SQLite, which has no arrays."""
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from server.scope import AreaScope
from sync.id_lists import any_of
from sync.models import Household

IDS = list(range(2101, 0, -1))


def compiled(statement, dialect):
    return statement.compile(dialect=dialect.dialect())


def test_postgresql_binds_the_ids_as_one_sorted_array():
    statement = compiled(select(Household.id).where(any_of(Household.area_id, IDS, arrays=True)), postgresql)
    assert "households.area_id = ANY (%(param_1)s::INTEGER[])" in str(statement)
    assert list(statement.params.values()) == [sorted(IDS)]


def test_sqlite_keeps_in():
    statement = compiled(select(Household.id).where(any_of(Household.area_id, IDS, arrays=False)), sqlite)
    assert "households.area_id IN (" in str(statement)
    assert "ANY" not in str(statement)


def test_a_scope_filters_through_the_same_binding():
    scope = AreaScope(frozenset(IDS), user_id=7, arrays=True)
    statement = compiled(scope.filter_own(select(Household.id), Household.area_id, Household.id), postgresql)
    assert "households.area_id = ANY (%(param_1)s::INTEGER[]) OR households.id = %(id_1)s::INTEGER" in str(statement)
    assert statement.params == {"param_1": sorted(IDS), "id_1": 7}
    plain = str(compiled(scope.filter(select(Household.id), Household.area_id), postgresql))
    assert plain.endswith("WHERE households.area_id = ANY (%(param_1)s::INTEGER[])")
    unrestricted = AreaScope(None, arrays=True)
    assert "WHERE" not in str(compiled(unrestricted.filter(select(Household.id), Household.area_id), postgresql))


def test_the_coverage_count_binds_a_provinces_areas_as_one_array():
    from sync.coverage import visit_count_statement
    statement = compiled(visit_count_statement(IDS, "2026-01", "2026-12", arrays=True), postgresql)
    assert "visits.area_id = ANY (%(param_1)s::INTEGER[])" in str(statement)
    assert statement.params["param_1"] == sorted(IDS)
    assert "visits.area_id IN (" in str(compiled(visit_count_statement(IDS, "2026-01", "2026-12"), sqlite))
