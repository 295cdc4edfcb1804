"""Demo coupons for the local stack: a 满减, a capped percent off and a no-threshold coupon."""
from __future__ import annotations

from chalicelib.marketing import templates
from chalicelib.marketing.inputs import NewTemplate
from chalicelib.marketing.models import CouponTemplateModel

DEMO_ACTOR = "demo"
DEMO_TEMPLATES = (
    {"name": "满99减10", "kind": "AMOUNT_OFF", "amount_off": 1000, "min_spend": 9900, "total": 1000,
     "per_user_limit": 2, "valid_days": 30},
    {"name": "全场9折 最高减50", "kind": "PERCENT_OFF", "percent_off": 10, "max_discount": 5000, "total": 500,
     "per_user_limit": 1, "valid_days": 14},
    {"name": "新人无门槛5元", "kind": "NO_THRESHOLD", "amount_off": 500, "total": 10000, "per_user_limit": 1,
     "valid_days": 7},
)


def seed_demo_coupons() -> int:
    """Create the demo coupon templates unless any template exists; returns how many were created."""
    if next(iter(CouponTemplateModel.all_templates.query("ALL", limit=1)), None) is not None:
        return 0
    for fields in DEMO_TEMPLATES:
        templates.create_template(NewTemplate.model_validate(fields), actor=DEMO_ACTOR)
    return len(DEMO_TEMPLATES)
