"""segments feature: per-buyer facts from the orders stream, segments computed on a schedule, coupon grants to a
segment worked in the background. Its console routes live under /admin (chalicelib/admin/segment_routes.py)."""
