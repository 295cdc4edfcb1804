"""marketing feature: coupon templates, the buyers' coupons, and the member levels' public page."""
