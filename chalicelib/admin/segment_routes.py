"""The segments console: each segment and its members, the thresholds, coupon grants to a segment.

Thin: each handler calls chalicelib.segments (imported when a request needs it, so the admin function's
cold start loads none of it) and answers its plain dicts. The segment list and the grants' progress are
for any staff; a segment's members (who, what they paid; nicknames masked) and the thresholds are
marketing's (`marketing.manage`); granting a coupon to a whole segment, and cancelling such a grant, needs
`segments.grant`, which an operator holds only when an owner grants it: one click gives coupons to
thousands of buyers.
"""
from __future__ import annotations

from chalicelib.admin.api import api
from chalicelib.core.auth import STAFF, staff_may
from chalicelib.core.http import IDEMPOTENCY_KEY, Context, Header
from chalicelib.core.permissions import MARKETING_MANAGE, SEGMENTS_GRANT

INPUTS, VIEWS = "chalicelib.segments.inputs:", "chalicelib.segments.views:"
MANAGE_MARKETING = staff_may(MARKETING_MANAGE)
GRANT_TO_SEGMENTS = staff_may(SEGMENTS_GRANT)
GRANT_KEY = Header(IDEMPOTENCY_KEY.name, "a new random key per new grant; the same key answers the same grant",
                   required=True, schema=IDEMPOTENCY_KEY.schema)


@api.route("/admin/segments", "GET", response=VIEWS + "SegmentList", auth=STAFF,
           summary="each segment's rule, size and when it was computed, and the thresholds")
def list_segments(ctx: Context):
    from chalicelib.segments import service

    return service.segment_list()


@api.route("/admin/segments/thresholds", "PUT", body=INPUTS + "ThresholdsBody", response=VIEWS + "ThresholdsView",
           auth=MANAGE_MARKETING, errors=(400,),
           summary="replace the segments' thresholds; the next scheduled run recomputes every segment with them")
def put_segment_thresholds(ctx: Context):
    from chalicelib.segments import service
    from chalicelib.segments.rules import Thresholds

    return service.save_thresholds(Thresholds.of(ctx.body.model_dump()), actor=ctx.principal.subject)


@api.route("/admin/segments/{segment}/members", "GET", query=INPUTS + "MembersQuery", response=VIEWS + "MemberPage",
           auth=MANAGE_MARKETING, errors=(400, 404),
           summary="a segment's members in user_id order, with what they paid; nicknames masked")
def list_segment_members(ctx: Context, segment: str):
    from chalicelib.segments import service

    return service.members_page(segment, ctx.query.cursor, ctx.query.limit)


@api.route("/admin/segments/{segment}/coupon-grants", "POST", body=INPUTS + "GrantBody", response=VIEWS + "GrantView",
           status=202, auth=GRANT_TO_SEGMENTS, errors=(400, 404, 409, 422), headers=(GRANT_KEY,),
           summary="grant a coupon template to every member of a segment, in the background (header "
                   "Idempotency-Key required); read its progress at /admin/coupon-grants/{grant_id}")
def grant_to_segment(ctx: Context, segment: str):
    from chalicelib.segments import grants

    return grants.start_grant(segment, ctx.body.template_id, key=ctx.headers.get("idempotency-key"),
                              actor=ctx.principal.subject)


@api.route("/admin/coupon-grants", "GET", query=INPUTS + "GrantsQuery", response=VIEWS + "GrantPage", auth=STAFF,
           errors=(400,), summary="coupon grants to segments, newest first, with their progress")
def list_coupon_grants(ctx: Context):
    from chalicelib.segments import grants

    return grants.list_grants(ctx.query.cursor, ctx.query.limit)


@api.route("/admin/coupon-grants/{grant_id}", "GET", response=VIEWS + "GrantView", auth=STAFF, errors=(404,),
           summary="a coupon grant's progress: granted, skipped by reason, failed")
def get_coupon_grant(ctx: Context, grant_id: str):
    from chalicelib.segments import grants

    return grants.get_grant(grant_id)


@api.route("/admin/coupon-grants/{grant_id}/cancel", "POST", response=VIEWS + "GrantView", auth=GRANT_TO_SEGMENTS,
           errors=(404, 409), summary="stop a RUNNING grant: no page starts after it; coupons given stay given")
def cancel_coupon_grant(ctx: Context, grant_id: str):
    from chalicelib.segments import grants

    return grants.cancel_grant(grant_id, actor=ctx.principal.subject)
