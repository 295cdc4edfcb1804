"""Coupon templates, as the merchant manages them: create, edit, end, list.

An edit is conditioned on the version read (two staff editing at once: one wins, the other
retries on the new version) and on `claimed` not exceeding a lowered `total`. It changes
only what is claimed from then on: a claimed coupon keeps the terms it was claimed under.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core import clock
from chalicelib.core.db import get_or_none, until_committed
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import new_id, require_id
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.marketing.models import (
    ACTIVE,
    AMOUNT_OFF,
    CLAIMABLE_LISTING,
    ENDED,
    NO_THRESHOLD,
    PERCENT_OFF,
    CouponTemplateModel,
)
from chalicelib.marketing.views import TemplatePage, TemplateView, template_view

if TYPE_CHECKING:  # staff requests; the buyers' claimable list never loads pydantic
    from chalicelib.marketing.inputs import NewTemplate, TemplateTerms

TERMS = ("name", "kind", "amount_off", "percent_off", "max_discount", "min_spend", "total", "per_user_limit",
         "valid_days", "starts_at", "ends_at", "claimable")
REQUIRED = ("name", "kind", "min_spend", "total", "per_user_limit", "claimable")  # null in an edit: unchanged
EDITABLE = TERMS + ("scope_kind", "scope_ids", "listing", "status", "version", "updated_at", "updated_by")


def create_template(body: NewTemplate, *, actor: str) -> TemplateView:
    now = clock.now()
    template = CouponTemplateModel(new_id(), claimed=0, status=ACTIVE, version=1, created_at=now, updated_at=now,
                                   updated_by=actor, min_spend=0, claimable=True)
    _apply(template, body)
    template.save(condition=CouponTemplateModel.template_id.does_not_exist())
    return template_view(template)


def edit_template(template_id: str, body: TemplateTerms, *, actor: str) -> TemplateView:
    """Change the given fields; held coupons keep their terms. A `total` below what is claimed is 409."""
    def attempt() -> TemplateView | None:
        template = load_template(template_id)
        if template.status == ENDED:
            raise Conflict("this coupon has ended; create a new one", code="COUPON_ENDED")
        read_version = int(template.version)
        _apply(template, body)
        if int(template.total) < int(template.claimed or 0):
            raise Conflict(f"{template.claimed} are claimed already; total cannot be lower",
                           code="TOTAL_BELOW_CLAIMED", details={"claimed": int(template.claimed)})
        template.version, template.updated_at, template.updated_by = read_version + 1, clock.now(), actor
        return _saved(template, read_version)

    return until_committed(attempt)


def end_template(template_id: str, *, actor: str) -> TemplateView:
    """No more claims or grants; coupons already held stay valid until their own `valid_until`."""
    def attempt() -> TemplateView | None:
        template = load_template(template_id)
        if template.status == ENDED:
            return template_view(template)
        read_version = int(template.version)
        template.status, template.listing = ENDED, None
        template.version, template.updated_at, template.updated_by = read_version + 1, clock.now(), actor
        return _saved(template, read_version)

    return until_committed(attempt)


def list_templates(cursor: str | None, limit: int) -> TemplatePage:
    before = decode_cursor(cursor)
    condition = CouponTemplateModel.template_id < before if before else None
    rows = list(CouponTemplateModel.all_templates.query("ALL", range_key_condition=condition,
                                                        scan_index_forward=False, limit=limit + 1))
    next_cursor = encode_cursor(rows[limit - 1].template_id) if len(rows) > limit else None
    return TemplatePage(items=[template_view(row) for row in rows[:limit]], next_cursor=next_cursor)


def get_template(template_id: str) -> TemplateView:
    return template_view(load_template(template_id))


def load_template(template_id: str) -> CouponTemplateModel:
    require_id(template_id, "COUPON_TEMPLATE")
    template = get_or_none(CouponTemplateModel, template_id)
    if template is None:
        raise NotFound("coupon template not found", code="COUPON_TEMPLATE_NOT_FOUND")
    return template


def _saved(template: CouponTemplateModel, read_version: int) -> TemplateView | None:
    """Write every field but `claimed` (the claims' counter, never written back from a read) on condition
    that nobody edited since the read and that `claimed` still fits the total; None when either changed."""
    from pynamodb.exceptions import UpdateError

    from chalicelib.core.db import condition_failed

    actions = []
    for name in EDITABLE:
        attribute, value = getattr(CouponTemplateModel, name), getattr(template, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    try:
        template.update(actions=actions, condition=(CouponTemplateModel.version == read_version)
                        & (CouponTemplateModel.claimed <= template.total))
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return template_view(template)


def _apply(template: CouponTemplateModel, terms: TemplateTerms) -> None:
    """Set the fields `terms` carries, then check the whole template makes sense (400 INVALID_TEMPLATE)."""
    given = terms.model_fields_set
    for name in TERMS:
        value = getattr(terms, name)
        if name in given and (value is not None or name not in REQUIRED):
            setattr(template, name, value)
    if "scope" in given and terms.scope is not None:
        template.scope_kind, template.scope_ids = terms.scope.kind, list(terms.scope.ids)
    # an edit that switches the form of validity drops the other form; a body giving both is refused below
    window_given = bool(given & {"starts_at", "ends_at"})
    if terms.valid_days is not None and not window_given:
        template.starts_at = template.ends_at = None
    elif window_given and "valid_days" not in given:
        template.valid_days = None
    template.min_spend = template.min_spend or 0
    template.listing = CLAIMABLE_LISTING if template.status == ACTIVE and template.claimable else None
    problem = _problem(template)
    if problem:
        raise BadRequest(problem, code="INVALID_TEMPLATE")


def _problem(t: CouponTemplateModel) -> str | None:
    if t.kind in (AMOUNT_OFF, NO_THRESHOLD) and not t.amount_off:
        return f"{t.kind} needs amount_off"
    if t.kind in (AMOUNT_OFF, NO_THRESHOLD) and (t.percent_off or t.max_discount):
        return f"{t.kind} takes amount_off, not percent_off or max_discount"
    if t.kind == NO_THRESHOLD and t.min_spend:
        return "NO_THRESHOLD has no min_spend"
    if t.kind == AMOUNT_OFF and t.min_spend < t.amount_off:
        return "AMOUNT_OFF (满减) needs min_spend of at least amount_off"
    if t.kind == PERCENT_OFF and (not t.percent_off or t.amount_off):
        return "PERCENT_OFF needs percent_off (1-99) and no amount_off"
    return _validity_problem(t.valid_days, t.starts_at, t.ends_at)


def _validity_problem(valid_days: Any, starts_at: datetime | None, ends_at: datetime | None) -> str | None:
    window = starts_at is not None or ends_at is not None
    if bool(valid_days) == window:
        return "give either valid_days or starts_at and ends_at"
    if window and (starts_at is None or ends_at is None or ends_at <= starts_at):
        return "a validity window needs starts_at before ends_at"
    return None
