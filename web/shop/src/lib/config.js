// Where the API answers. The H5 site is served from the API's own origin, so relative paths are right there;
// a mini-program has no origin of its own and must name the API's domain (a "request 合法域名" in its settings):
// build it with VITE_MALL_API_BASE=https://api.your-shop.example npm run build:mp.
// #ifdef H5
export const API_BASE = ''
// #endif
// #ifndef H5
export const API_BASE = import.meta.env.VITE_MALL_API_BASE || 'https://api.shop.example'
// #endif

// Subscription-message templates the mini-program asks the buyer for at checkout (the merchant's ids from the
// WeChat console, the same ones configured with PUT /admin/notification-templates/{kind}); comma separated.
export const SUBSCRIBE_TEMPLATE_IDS = (import.meta.env.VITE_MALL_SUBSCRIBE_TEMPLATES || '')
  .split(',').map((id) => id.trim()).filter(Boolean)
