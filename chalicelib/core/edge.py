"""The buyer's own address when the API is reached through the shop's CloudFront distribution (infra/web.py).

Through CloudFront, API Gateway's `sourceIp` is an edge server's, and per-IP limits would put every buyer near one
edge into one bucket. The distribution forwards the viewer's address (`CloudFront-Viewer-Address: ip:port`) and
proves the request passed through it with an origin header holding the environment's `edge_secret`. Without that
proof the header is anybody's word, and the connection's own address counts: no caller picks their address.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
from collections.abc import Mapping
from datetime import datetime

from chalicelib.core import clock, config

VIEWER_ADDRESS = "cloudfront-viewer-address"
PROOF = "x-mall-edge"  # the origin header infra/web.py has CloudFront add (infra.web.EDGE_HEADER)
log = logging.getLogger("micromall.edge")
# When the environment has no edge_secret (no distribution deployed), say so once per SECRET_MAX_AGE, not per request.
_missing_since: list[datetime] = []
_lock = threading.Lock()


def viewer_ip(headers: Mapping[str, str]) -> str | None:
    """The viewer's address CloudFront vouches for, or None when the request does not prove it came through it."""
    address, proof = headers.get(VIEWER_ADDRESS), headers.get(PROOF)
    if not address or not proof:
        return None
    expected = _edge_secret()
    if expected is None or not hmac.compare_digest(proof.encode(), expected.encode()):
        log.warning("a request named its viewer's address without the edge's proof; its connection's address counts")
        return None
    host = address.rsplit(":", 1)[0].strip("[]")  # "203.0.113.9:443", "2001:db8::1:443"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _edge_secret() -> str | None:
    with _lock:
        if _missing_since and clock.now() - _missing_since[0] < config.SECRET_MAX_AGE:
            return None
    try:
        return config.secret("edge_secret")
    except Exception:  # noqa: BLE001 - unset locally, or no distribution deployed: nothing vouches, the connection counts
        with _lock:
            _missing_since[:] = [clock.now()]
        return None


def _forget() -> None:
    with _lock:
        _missing_since.clear()
