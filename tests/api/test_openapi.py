"""GET /api/v1/openapi.json: generated from the routes, so every API route is in it, as valid OpenAPI 3."""
import re

from openapi_spec_validator import validate


def spec_of(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi_3(client):
    spec = spec_of(client)
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_api_route_and_method_is_in_the_document(app, client):
    paths = spec_of(client)["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        missing += [f"{method} {path}" for method in rule.methods - {"HEAD", "OPTIONS"}
                    if method.lower() not in paths.get(path, {})]
    assert missing == []


def test_path_parameters_are_read_from_the_rule(client):
    paths = spec_of(client)["paths"]
    thumb = paths["/submissions/{xml_form_id}/{instance_id}/attachments/{filename}/{size}"]["get"]
    assert [p["name"] for p in thumb["parameters"]] == ["xml_form_id", "instance_id", "filename", "size"]
    assert thumb["parameters"][-1]["schema"] == {"type": "string", "enum": ["thumb", "preview"]}


def test_query_parameters_bodies_and_answers_come_from_the_handlers_schemas(client):
    spec = spec_of(client)
    listing = spec["paths"]["/submissions"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"form_id", "household", "limit", "offset", "after"}
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Submission"}}
    state = spec["paths"]["/forms/{xml_form_id}"]["patch"]
    assert state["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/FormState"}
    assert spec["components"]["schemas"]["FormState"]["properties"]["state"]["enum"] == ["open", "closing", "closed"]
    upload = spec["paths"]["/forms"]["post"]
    assert "201" in upload["responses"] and "xlsform" in (
        upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"])
    audit = spec["paths"]["/audit"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert audit["properties"]["items"]["items"] == {"$ref": "#/components/schemas/AuditEntry"}


def test_a_failure_is_described_as_a_problem(client):
    for operations in spec_of(client)["paths"].values():
        for operation in operations.values():
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}
