def test_health_lists_every_feature(client):
    response = client.get("/health")
    assert response.status_code == 200, response.data
    assert response.data["features"] == ["members", "catalog", "cart", "checkout", "payments", "marketing", "groupbuy",
                                         "admin", "notify", "segments", "analytics"]


def test_wrong_method_answers_in_the_mall_error_shape(client):
    response = client.post("/health")
    assert response.status_code == 405
    assert response.data["error"]["code"] == "METHOD_NOT_ALLOWED"
