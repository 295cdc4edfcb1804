"""The baseline for cold start: a bare Chalice app answering with one boto3 GetItem."""
import json
import os

import boto3
from chalice import Chalice

app = Chalice(app_name="bare")
_table = None


@app.route("/items/{item_id}")
def get_item(item_id):
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb", endpoint_url=os.environ["MALL_DYNAMODB_ENDPOINT"],
                                region_name="us-east-1").Table(os.environ["BARE_TABLE"])
    item = _table.get_item(Key={"product_id": item_id}).get("Item")
    return json.loads(json.dumps(item, default=str))
