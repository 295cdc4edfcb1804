"""The members routes are documented in /openapi.json from the same models that validate them."""


def test_openapi_documents_every_members_route(client):
    document = client.get("/openapi.json").data
    paths = document["paths"]
    assert set(paths["/me/addresses"]) == {"get", "post"}
    assert set(paths["/me/addresses/{address_id}"]) == {"put", "delete"}
    assert "post" in paths["/auth/login"] and "get" in paths["/me"]
    assert "409" in paths["/me/addresses"]["post"]["responses"]
    address_body = document["components"]["schemas"]["NewAddressBody"]
    assert address_body["additionalProperties"] is False
    assert address_body["properties"]["phone"]["pattern"] == "^1[3-9][0-9]{9}$"
    assert "session_key" not in document["components"]["schemas"]["User"]["properties"]
