"""The payments ledger: one table of conditional markers, so each money fact is applied once.

| entry_key | written when | guards |
| --- | --- | --- |
| `EVENT#<provider>#<event id>` | a notification changed something | the same event applied twice |
| `TXN#<provider>#<transaction id>` | a provider payment was settled (applied or refunded) | one payment handled twice |
| `PAID#<out_trade_no>` | a payment moved the order to PAID | a second payment applied to one order |
| `REFUND#<out_refund_no>` | a refund was decided | refunding twice; carries provider, trade total, status, looks |
| `PREPAY#<out_trade_no>#<provider>` | a payment was started | what reconciliation asks that provider about |
| `ANOMALY#<id>` | a notification could not be applied (amount, merchant, unknown order) | shown to the merchant |

Each is written with `attribute_not_exists` in the same transaction as the
order change it stands for; a replay or a racing duplicate cancels there.
"""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.db import index_meta, register, table_meta

RECONCILE_SHARDS = 4
ANOMALIES = "ANOMALY"


class Reconcile(GlobalSecondaryIndex):
    """Sparse: prepaid trades and refunds not yet final waiting for a check, by when the check is due."""
    Meta = index_meta("reconcile", AllProjection)
    reconcile_shard = UnicodeAttribute(hash_key=True)
    check_after = UTCDateTimeAttribute(range_key=True)


class Anomalies(GlobalSecondaryIndex):
    """Sparse: anomalies, newest first by ULID, for the merchant's console."""
    Meta = index_meta("anomalies", AllProjection)
    anomaly_list = UnicodeAttribute(hash_key=True)
    anomaly_id = UnicodeAttribute(range_key=True)


@register
class LedgerEntry(Model):
    Meta = table_meta("payments")

    entry_key = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # EVENT, TXN, PAID, REFUND, PREPAY, ANOMALY
    order_id = UnicodeAttribute(null=True)
    provider = UnicodeAttribute(null=True)
    transaction_id = UnicodeAttribute(null=True)
    amount = NumberAttribute(null=True)  # fen
    status = UnicodeAttribute(null=True)  # REFUND: PROCESSING, SUCCESS, CLOSED, ABNORMAL, FAILED
    total = NumberAttribute(null=True)  # REFUND: fen, the refunded trade's total (what the provider checks against)
    purpose = UnicodeAttribute(null=True)  # REFUND: BUYER or RETURN (checkout.order_refunds)
    outcome = UnicodeAttribute(null=True)  # TXN: APPLIED or REFUNDED; ANOMALY: its code
    detail = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    submitted = BooleanAttribute(null=True)  # REFUND: the provider accepted the request
    scene = UnicodeAttribute(null=True)  # PREPAY (wechat): mini_program or wechat_browser, the trade's first prepay's
    checks = NumberAttribute(null=True)  # PREPAY, REFUND: reconciler looks made so far (the backoff's exponent)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    reconcile_shard = UnicodeAttribute(null=True)
    check_after = UTCDateTimeAttribute(null=True)
    anomaly_list = UnicodeAttribute(null=True)
    anomaly_id = UnicodeAttribute(null=True)

    reconcile = Reconcile()
    anomalies = Anomalies()
