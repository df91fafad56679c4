"""Property test over the generated OpenAPI document (issue 16, "The API describes itself"): for every operation,
schemathesis draws requests from its parameters and bodies — schema-valid ones and, in a second pass, ones that
break the schema — and no answer may be a 5xx. Called as an admin on the sample district with reconciled visits,
so that lists, records and exports have rows. Derandomized: CI runs the same requests every time."""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from support import new_instance_id, visit_xml

EXAMPLES = 10


@pytest.fixture
def api_schema(app, sample_district, admin, collect, reconcile):
    for number in ("2105040010010001", "2105040010020001"):
        assert collect.submit(visit_xml(number, instance_id=new_instance_id())).status_code == 201
    reconcile()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_the_document_describes_makes_a_server_error(api_schema, admin, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30
    failures, answered = [], set()
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers=admin)
            if response.status_code < 300:
                answered.add(operation.label)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code} "
                                f"{response.text[:200]}")
        check()
    assert failures == []
    if mode == GenerationMode.POSITIVE:  # the requests reached the handlers, not only their 400s and 404s
        listings = {o.label for o in operations if o.method.upper() == "GET" and "{" not in o.path}
        assert len(listings) > 10 and listings - answered == set()
