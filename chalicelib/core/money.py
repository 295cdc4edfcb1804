"""Money is an int of fen (1 yuan = 100 fen) everywhere inside the mall.

Only the Alipay edge speaks yuan strings ("12.30"); these two functions are the
only conversions, and both are exact (no float ever touches an amount).
"""
from __future__ import annotations

import re
from decimal import Decimal

Fen = int

MAX_FEN = 10**12  # ten billion yuan: far above any order, small enough to stay exact
_YUAN = re.compile(r"^(0|[1-9][0-9]{0,10})(\.[0-9]{1,2})?$")  # up to MAX_FEN


def yuan_to_fen(yuan: str) -> Fen:
    """'12.3' -> 1230. Refuses negatives, more than two decimals and junk."""
    if not isinstance(yuan, str) or not _YUAN.match(yuan):
        raise ValueError(f"not a yuan amount: {yuan!r}")
    return check_fen(int(Decimal(yuan) * 100))


def fen_to_yuan(fen: Fen) -> str:
    """1230 -> '12.30', the two-decimal string Alipay expects."""
    check_fen(fen)
    return f"{fen // 100}.{fen % 100:02d}"


def check_fen(fen: object) -> Fen:
    if isinstance(fen, bool) or not isinstance(fen, int) or not 0 <= fen <= MAX_FEN:
        raise ValueError(f"not an amount in fen: {fen!r}")
    return fen
