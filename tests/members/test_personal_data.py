"""Buyers' personal data: sealed at rest, masked for staff and logs, exported and erased on request (PIPL)."""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from chalicelib.core import config, pii
from tests.checkout.conftest import new_key, pay, shop, staff  # noqa: F401 - fixtures
from tests.conftest import buyer_token

PHONE, DETAIL, NAME = "13912345678", "望京街道阜通东大街 6 号院 3 号楼 1201", "欧阳娜娜"
ADDRESS = {"name": NAME, "phone": PHONE, "province": "北京市", "city": "北京市", "district": "朝阳区",
           "detail": DETAIL}


def raw_items(table: str) -> list[dict]:
    return boto3.client("dynamodb", region_name=config.region()).scan(TableName=config.table_name(table))["Items"]


def login(client, name: str) -> tuple[str, object]:
    answer = client.post("/auth/login", {"code": f"dev:{name}"})
    assert answer.status_code == 200, answer.data
    user_id = answer.data["user"]["user_id"]
    return user_id, client.as_token(answer.data["token"])


def buyer_with_address(client, name: str = "dora"):
    user_id, api = login(client, name)
    added = api.post("/me/addresses", ADDRESS)
    assert added.status_code == 201, added.data
    return user_id, api, added.data["address_id"]


def place_order(api, shop, address_id: str, note: str = "") -> dict:  # noqa: F811
    answer = api.post("/orders", {"items": [{"sku_id": shop.sku(), "quantity": 1}], "address_id": address_id,
                                  "note": note}, headers={"Idempotency-Key": new_key()})
    assert answer.status_code == 201, answer.data
    return answer.data


def completed_order(api, shop, address_id: str, note: str = "") -> dict:  # noqa: F811
    from chalicelib.checkout import lifecycle

    order = place_order(api, shop, address_id, note)
    pay(order["order_id"])
    lifecycle.ship(order["order_id"], "SF", "SF1234567890", actor="shipper")
    assert api.post(f"/orders/{order['order_id']}/confirm").status_code == 200
    return order


# --- sealed at rest ---------------------------------------------------------------

def test_address_book_holds_name_phone_and_street_only_sealed(client):
    user_id, api, address_id = buyer_with_address(client)
    stored = json.dumps(raw_items("addresses"), ensure_ascii=False)
    for secret in (PHONE, DETAIL, NAME, PHONE[-4:] + "\""):
        assert secret not in stored, f"{secret!r} readable in the addresses table: {stored}"
    item = raw_items("addresses")[0]
    assert all(pii.is_sealed(item[name]["S"]) for name in ("name", "phone", "detail")), item
    assert item["province"]["S"] == "北京市"  # coarse, left readable on purpose
    mine = api.get("/me/addresses").data[0]
    assert (mine["name"], mine["phone"], mine["detail"]) == (NAME, PHONE, DETAIL)


def test_order_snapshot_is_sealed_and_its_buyer_reads_it_whole(client, shop):  # noqa: F811
    user_id, api, address_id = buyer_with_address(client)
    order = place_order(api, shop, address_id)
    stored = json.dumps(raw_items("orders"), ensure_ascii=False)
    assert PHONE not in stored and DETAIL not in stored and NAME not in stored
    seen = api.get(f"/orders/{order['order_id']}").data["address"]
    assert (seen["name"], seen["phone"], seen["detail"]) == (NAME, PHONE, DETAIL)


def test_a_sealed_value_opens_only_in_its_own_place_and_for_its_own_buyer(client):
    user_id, api, address_id = buyer_with_address(client)
    sealed = raw_items("addresses")[0]["phone"]["S"]
    assert pii.envelope().open(sealed, f"addresses.phone|{user_id}") == PHONE
    for wrong in (f"addresses.detail|{user_id}", f"orders.address.phone|{user_id}", "addresses.phone|U-other"):
        with pytest.raises(pii.PiiError):
            pii.envelope().open(sealed, wrong)
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(pii.PiiError):
        pii.envelope().open(tampered, f"addresses.phone|{user_id}")


def test_a_ciphertext_copied_into_another_buyers_item_does_not_open(client):
    from chalicelib.members import service

    victim, _, _ = buyer_with_address(client, "victim")
    thief, _, thief_address = buyer_with_address(client, "thief")
    dynamodb = boto3.client("dynamodb", region_name=config.region())
    table = config.table_name("addresses")
    victims = [item for item in raw_items("addresses") if item["user_id"]["S"] == victim][0]
    dynamodb.update_item(TableName=table, Key={"user_id": {"S": thief}, "address_id": {"S": thief_address}},
                         UpdateExpression="SET phone = :p", ExpressionAttributeValues={":p": victims["phone"]})
    with pytest.raises(pii.PiiError):
        service.get_address(thief, thief_address).phone  # noqa: B018


def test_a_value_sealed_under_another_local_key_is_refused(client):
    user_id, api, address_id = buyer_with_address(client)
    sealed = raw_items("addresses")[0]["phone"]["S"]
    other = pii.Envelope(pii.LocalKeys(b"\x01" * 32))
    with pytest.raises(pii.PiiError, match="local key"):
        other.open(sealed, f"addresses.phone|{user_id}")


def test_plaintext_written_before_encryption_still_reads_and_is_sealed_on_the_next_write(client):
    from chalicelib.members import service

    user_id, api, address_id = buyer_with_address(client)
    dynamodb = boto3.client("dynamodb", region_name=config.region())
    key = {"user_id": {"S": user_id}, "address_id": {"S": address_id}}
    dynamodb.update_item(TableName=config.table_name("addresses"), Key=key,
                         UpdateExpression="SET phone = :p, detail = :d",
                         ExpressionAttributeValues={":p": {"S": "13700001111"}, ":d": {"S": "旧数据 1 号"}})
    old = service.get_address(user_id, address_id)
    assert (old.phone, old.detail) == ("13700001111", "旧数据 1 号")
    assert api.put(f"/me/addresses/{address_id}", {**ADDRESS, "phone": "13700001111"}).status_code == 200
    item = [item for item in raw_items("addresses") if item["address_id"]["S"] == address_id][0]
    assert pii.is_sealed(item["phone"]["S"]) and pii.is_sealed(item["detail"]["S"])


def test_live_mode_without_a_kms_key_refuses_to_seal(monkeypatch):
    monkeypatch.delenv("MALL_PII_LOCAL_KEY")
    monkeypatch.setenv("MALL_PROVIDERS", "live")
    with pytest.raises(config.ConfigError, match="MALL_PII_KMS_KEY_ID"):
        pii.keys_from_config()


def test_the_sandbox_generates_its_local_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("MALL_PII_LOCAL_KEY")
    monkeypatch.setenv("MALL_PII_KEY_FILE", str(tmp_path / "keys" / "pii.key"))
    first = pii.keys_from_config()
    assert (tmp_path / "keys" / "pii.key").stat().st_mode & 0o777 == 0o600
    assert pii.keys_from_config().key_id == first.key_id


# --- KMS ----------------------------------------------------------------------------

@pytest.fixture
def kms_calls(monkeypatch) -> list[str]:
    import botocore.client

    calls: list[str] = []
    real_call = botocore.client.BaseClient._make_api_call

    def counting_call(client, operation_name, api_params):
        if client.meta.service_model.service_name == "kms":
            calls.append(operation_name)
        return real_call(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting_call)
    return calls


@pytest.fixture
def kms_envelope(aws, monkeypatch):
    key = boto3.client("kms", region_name=config.region()).create_key(Description="micromall pii")["KeyMetadata"]
    monkeypatch.setenv("MALL_PII_KMS_KEY_ID", key["Arn"])
    previous = pii.use_envelope(None)  # built again from config: KMS now
    yield key
    pii.use_envelope(previous)


def test_kms_data_keys_are_cached_per_process_and_per_wrapped_key(kms_envelope, kms_calls, frozen_clock):
    sealed = [pii.envelope().seal(f"1380000{n:04d}", "t.phone|U") for n in range(50)]
    assert kms_calls == ["GenerateDataKey"], "one data key seals many values"
    assert sealed[0].split(":")[1] == kms_envelope["KeyId"]
    assert pii.envelope().open(sealed[7], "t.phone|U") == "13800000007"
    assert kms_calls == ["GenerateDataKey"], "the process's own data key opens without KMS"

    another_process = pii.Envelope(pii.keys_from_config())
    assert [another_process.open(value, "t.phone|U") for value in sealed] == [f"1380000{n:04d}" for n in range(50)]
    assert kms_calls == ["GenerateDataKey", "Decrypt"], "one Decrypt per wrapped data key"

    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):  # the data key is bound to the mall's encryption context
        boto3.client("kms", region_name=config.region()).decrypt(CiphertextBlob=pii._unb64(sealed[0].split(":")[2]))
    assert kms_calls == ["GenerateDataKey", "Decrypt", "Decrypt"]
    del kms_calls[2]  # that refused Decrypt was this test's own

    frozen_clock.advance((pii.DATA_KEY_MAX_AGE + timedelta(seconds=1)).total_seconds())
    pii.envelope().seal("13800000000", "t.phone|U")
    another_process.open(sealed[0], "t.phone|U")
    assert kms_calls == ["GenerateDataKey", "Decrypt", "GenerateDataKey", "Decrypt"], "keys age out"


def test_an_order_flow_under_kms_costs_one_generate_and_no_decrypt(client, shop, kms_envelope, kms_calls):  # noqa: F811
    user_id, api, address_id = buyer_with_address(client)
    for _ in range(3):
        place_order(api, shop, address_id)
    listed = api.get("/orders").data["items"]
    assert [order["address"]["phone"] for order in listed] == [PHONE] * 3
    assert kms_calls == ["GenerateDataKey"]
    stored = json.dumps(raw_items("orders") + raw_items("addresses"), ensure_ascii=False)
    assert PHONE not in stored


# --- masked for staff and logs ---------------------------------------------------------

def test_staff_see_the_address_masked_in_lists_and_views(client, shop, staff):  # noqa: F811
    user_id, api, address_id = buyer_with_address(client)
    order = place_order(api, shop, address_id, note=f"到了打 {PHONE}")
    pay(order["order_id"])
    listed = staff.get("/admin/orders").data["items"][0]
    viewed = staff.get(f"/admin/orders/{order['order_id']}").data
    shipped = staff.post(f"/admin/orders/{order['order_id']}/ship", {"carrier": "SF", "tracking_no": "SF1"}).data
    for seen in (listed, viewed, shipped):
        assert seen["address"]["phone"] == "139****5678"
        assert seen["address"]["name"] == "欧***"
        assert seen["address"]["detail"] == "望京街道阜通****"
        assert seen["note"] == "到了打 139****5678"
        assert PHONE not in json.dumps(seen, ensure_ascii=False) and DETAIL not in json.dumps(seen, ensure_ascii=False)
    assert api.get(f"/orders/{order['order_id']}").data["note"] == f"到了打 {PHONE}"


def test_whoever_ships_reads_one_orders_full_address(client, shop, staff):  # noqa: F811
    from tests.conftest import staff_token

    user_id, api, address_id = buyer_with_address(client)
    order = place_order(api, shop, address_id)
    label = staff.get(f"/admin/orders/{order['order_id']}/address")
    assert label.status_code == 200
    assert (label.data["phone"], label.data["detail"], label.data["name"]) == (PHONE, DETAIL, NAME)
    assert staff.get("/admin/orders/01J00000000000000000000000/address").status_code == 404
    assert api.get(f"/admin/orders/{order['order_id']}/address").status_code == 403
    assert client.as_token(staff_token("ghost", "operator")).get(
        f"/admin/orders/{order['order_id']}/address").status_code == 401


def test_no_phone_name_or_street_reaches_a_log_line_through_a_whole_order(client, shop, staff, capsys,  # noqa: F811
                                                                         monkeypatch):
    from chalicelib.core import logs
    from infra.local.pump import EventPump

    monkeypatch.setenv("MALL_LOG_LEVEL", "DEBUG")
    logs.configure(json_lines=False)
    import app as app_module

    user_id, api, address_id = buyer_with_address(client, "logged")
    order = place_order(api, shop, address_id)
    assert api.post("/payments/sandbox/pay", {"order_id": order["order_id"]}).status_code == 200
    staff.get("/admin/orders")
    staff.get(f"/admin/orders/{order['order_id']}/address")
    staff.post(f"/admin/orders/{order['order_id']}/ship", {"carrier": "SF", "tracking_no": "SF1"})
    api.post(f"/orders/{order['order_id']}/confirm")
    EventPump(app_module.app).drain()
    api.get("/me/export")
    assert api.delete("/me").status_code == 204
    EventPump(app_module.app).drain()
    out = capsys.readouterr()
    written = out.out + out.err
    assert "shipping address revealed" in written, "the log did not capture the flow"
    for secret in (PHONE, DETAIL, NAME, "阜通东大街"):
        assert secret not in written, f"{secret!r} reached a log line"


def test_a_phone_number_that_reaches_a_log_line_anyway_is_masked(capsys):
    import logging

    from chalicelib.core import logs

    logs.configure(json_lines=False)
    logging.getLogger("micromall.test").warning("could not parse %s for order 01J9ZX13912345678ABCDEFGHJK",
                                                PHONE)
    written = capsys.readouterr().out
    assert "139****5678" in written and PHONE not in written.replace("01J9ZX13912345678ABCDEFGHJK", "")
    assert "01J9ZX13912345678ABCDEFGHJK" in written, "ids are not masked"


# --- export and delete (PIPL) ------------------------------------------------------------

def test_export_holds_profile_addresses_orders_coupons_and_points(client, shop, staff):  # noqa: F811
    from chalicelib.marketing import service as marketing
    from chalicelib.members import points

    user_id, api, address_id = buyer_with_address(client, "exporter")
    order = completed_order(api, shop, address_id)
    template = staff.post("/admin/coupon-templates", {"name": "满100减10", "kind": "AMOUNT_OFF", "amount_off": 1000,
                                                      "min_spend": 10000, "total": 10, "per_user_limit": 1,
                                                      "valid_days": 7})
    assert template.status_code == 201, template.data
    marketing.claim(user_id, template.data["template_id"])
    points.adjust(user_id, 300, "welcome", actor="admin")
    assert api.post("/me/subscriptions", {"results": {"TPL-shipped": "accept"}}).status_code == 200

    exported = api.get("/me/export")
    assert exported.status_code == 200
    data = exported.data
    assert data["format"] == "micromall.personal-data/1"
    assert data["profile"]["user_id"] == user_id and data["profile"]["openid"]
    assert "session_key" not in json.dumps(data)
    assert [(a["phone"], a["detail"]) for a in data["addresses"]] == [(PHONE, DETAIL)]
    assert [o["order_id"] for o in data["orders"]] == [order["order_id"]]
    assert data["orders"][0]["address"]["phone"] == PHONE
    assert [c["template_id"] for c in data["coupons"]] == [template.data["template_id"]]
    assert data["points"]["balance"] == 300 and data["points"]["entries"][0]["reason"] == "ADMIN"
    assert data["subscriptions"] == [{"template_id": "TPL-shipped", "credits": 1, "banned": False}]
    assert client.get("/me/export").status_code == 401


def test_delete_redacts_orders_anonymises_the_profile_and_the_next_login_is_a_new_user(client, shop, staff):  # noqa: F811
    from chalicelib.checkout.views import REDACTED

    user_id, api, address_id = buyer_with_address(client, "leaver")
    order = completed_order(api, shop, address_id, note="放门口")
    before = staff.get(f"/admin/orders/{order['order_id']}").data

    assert api.delete("/me").status_code == 204
    assert api.delete("/me").status_code == 204, "deleting again is done already"

    assert api.get("/me").status_code == 404
    assert raw_items("addresses") == []
    assert api.post("/me/addresses", ADDRESS).data["error"]["code"] == "ACCOUNT_DELETED"
    assert api.put(f"/me/addresses/{address_id}", ADDRESS).data["error"]["code"] == "ACCOUNT_DELETED"
    assert api.delete(f"/me/addresses/{address_id}").status_code == 409
    assert api.get("/me/addresses").data == []
    after = staff.get(f"/admin/orders/{order['order_id']}").data
    assert after["address"] == {"address_id": REDACTED, "name": REDACTED, "phone": REDACTED,
                                "province": REDACTED, "city": REDACTED, "district": REDACTED, "detail": REDACTED}
    assert after["note"] == ""
    for kept in ("status", "payable", "items", "payment", "refunds", "user_id", "completed_at"):
        assert after[kept] == before[kept], kept
    stored_user = [item for item in raw_items("users") if item["user_id"]["S"] == user_id][0]
    assert stored_user["openid"]["S"] == f"deleted:{user_id}" and "unionid" not in stored_user
    assert stored_user["session_key"]["S"] == "" and "deleted_at" in stored_user

    new_user_id, new_api = login(client, "leaver")
    assert new_user_id != user_id
    assert new_api.get("/orders").data["items"] == []


def test_delete_is_refused_while_an_order_may_still_move_money(client, shop):  # noqa: F811
    from chalicelib.checkout import lifecycle

    user_id, api, address_id = buyer_with_address(client, "busy")
    order = place_order(api, shop, address_id)
    for step in (None, "pay", "refund"):
        if step == "pay":
            pay(order["order_id"])
        if step == "refund":
            lifecycle.request_refund(user_id, order["order_id"], "不想要了")
        refused = api.delete("/me")
        assert refused.status_code == 409, (step, refused.data)
        assert refused.data["error"]["code"] == "ACCOUNT_HAS_OPEN_ORDERS"
        assert refused.data["error"]["details"]["orders"][0]["order_id"] == order["order_id"]
    assert api.get("/me").status_code == 200 and len(api.get("/me/addresses").data) == 1, "nothing was erased"


def test_delete_after_cancel_succeeds_and_the_cancelled_order_is_redacted(client, shop):  # noqa: F811
    user_id, api, address_id = buyer_with_address(client, "canceller")
    order = place_order(api, shop, address_id)
    assert api.post(f"/orders/{order['order_id']}/cancel").status_code == 200
    assert api.delete("/me").status_code == 204
    assert [item["address"]["M"]["address_id"]["S"] for item in raw_items("orders")] == ["[已删除]"]


def test_another_buyers_token_cannot_export_or_delete_someone_else(client, shop):  # noqa: F811
    victim, victim_api, _ = buyer_with_address(client, "victim2")
    stranger = client.as_token(buyer_token("U-stranger"))
    assert stranger.get("/me/export").status_code == 404
    assert stranger.delete("/me").status_code == 204  # nothing of theirs to delete; the victim is untouched
    assert victim_api.get("/me").status_code == 200 and len(victim_api.get("/me/addresses").data) == 1


def test_an_order_snapshot_written_before_encryption_still_reads_for_buyer_and_staff(client, shop, staff):  # noqa: F811
    user_id, api, address_id = buyer_with_address(client, "veteran")
    order = place_order(api, shop, address_id)
    boto3.client("dynamodb", region_name=config.region()).update_item(
        TableName=config.table_name("orders"), Key={"order_id": {"S": order["order_id"]}},
        UpdateExpression="SET address.phone = :p, address.detail = :d",
        ExpressionAttributeValues={":p": {"S": "13700001111"}, ":d": {"S": "旧数据 1 号楼"}})
    assert api.get(f"/orders/{order['order_id']}").data["address"]["phone"] == "13700001111"
    assert staff.get(f"/admin/orders/{order['order_id']}").data["address"]["phone"] == "137****1111"


@pytest.mark.parametrize("attempt", range(3))
def test_addresses_added_while_the_account_is_deleted_never_survive_it(client, atomic_dynamodb, attempt):
    import threading

    from chalicelib.core.errors import Conflict, ServiceUnavailable
    from chalicelib.members import privacy, service

    user_id, api, _ = buyer_with_address(client, f"racer{attempt}")
    fields = service.AddressFields(name=NAME, phone=PHONE, province="北京市", city="北京市", district="朝阳区",
                                   detail=DETAIL)
    start = threading.Barrier(5)
    outcomes: list[str] = []

    def add() -> None:
        start.wait()
        for _ in range(3):
            try:
                service.add_address(user_id, fields)
                outcomes.append("added")
            except (Conflict, ServiceUnavailable) as refused:  # ACCOUNT_DELETED, or BUSY: the book kept changing
                outcomes.append(refused.code)

    def delete() -> None:
        start.wait()
        for _ in range(10):  # as a client does on 503 BUSY (the book changed under each of its attempts)
            try:
                privacy.delete_account(user_id)
                outcomes.append("deleted")
                return
            except ServiceUnavailable:
                outcomes.append("delete BUSY")

    threads = [threading.Thread(target=add) for _ in range(4)] + [threading.Thread(target=delete)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "deleted" in outcomes, outcomes
    assert [item for item in raw_items("addresses") if item["user_id"]["S"] == user_id] == [], outcomes
    assert api.get("/me").status_code == 404


def test_a_book_larger_than_one_transaction_is_deleted_whole(client, monkeypatch):
    from chalicelib.members import privacy, service

    monkeypatch.setattr(privacy, "TRANSACTION_ADDRESSES", 2)
    user_id, api, _ = buyer_with_address(client, "hoarder")
    for _ in range(4):
        assert api.post("/me/addresses", ADDRESS).status_code == 201
    assert api.delete("/me").status_code == 204
    assert [item for item in raw_items("addresses") if item["user_id"]["S"] == user_id] == []
    assert service.list_addresses(user_id) == []
