"""How personal data is shown to staff and written to logs: enough to recognise, not enough to use.

- phone `13812348000` -> `138****8000` (the first three and last four digits, as couriers print them);
- name `张三` -> `张*`, `欧阳娜娜` -> `欧***` (the first character);
- street line `朝阳路100号2栋301` -> `朝阳路1****` (its first third, at most 6 characters).

The buyer sees their own data whole; staff see it masked (admin order lists and views); the
full address of one order is for whoever ships it (`GET /admin/orders/{id}/address`, orders.ship).
Log lines never carry it: nothing logs it, and `redact` masks any mainland mobile number that
would still reach a line (an exception's message, say).
"""
from __future__ import annotations

import re

MASK = "*"
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(1[3-9][0-9])[0-9]{4}([0-9]{4})(?![0-9A-Za-z])")


def mask_phone(phone: str) -> str:
    digits = phone or ""
    if len(digits) < 8:
        return MASK * len(digits)
    return digits[:3] + MASK * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    if not name:
        return ""
    return name[0] + MASK * max(1, len(name) - 1)


def mask_detail(detail: str) -> str:
    if not detail:
        return ""
    kept = min(6, len(detail) // 3)
    return detail[:kept] + MASK * 4


def redact(text: str) -> str:
    """Mask every mainland mobile number in `text` (not digits inside ids or longer numbers)."""
    return _MOBILE.sub(lambda found: found.group(1) + MASK * 4 + found.group(2), text)
