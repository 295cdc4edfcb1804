import { API_BASE } from './config'
import { session } from './session'
import { deviceId } from './storage'
import { serverNow } from './http'

// Behaviour events (PAGE_VIEW, PRODUCT_VIEW, SEARCH, SHARE) for the merchant's funnel: POST /track, batched,
// best effort. Nothing waits on it and nothing it answers (an error, a 404 where the route is not deployed, no
// network) reaches the buyer or ends their session.
const MAX_BATCH = 50
const FLUSH_AFTER_MS = 1500
let queue = []
let timer = null

export function track(type, fields = {}) {
  queue.push({ type, ...fields, at: new Date(serverNow()).toISOString() })
  if (queue.length >= MAX_BATCH) flush()
  else if (!timer) timer = setTimeout(flush, FLUSH_AFTER_MS)
}

function headers() {
  const header = { 'Content-Type': 'application/json', 'X-Device-Id': deviceId() }
  if (session.token) header.Authorization = `Bearer ${session.token}`
  return header
}

export function flush({ leaving = false } = {}) {
  if (timer) {
    clearTimeout(timer)
    timer = null
  }
  if (!queue.length) return
  const events = queue.slice(0, MAX_BATCH)
  queue = queue.slice(MAX_BATCH)
  const body = JSON.stringify({ events })
  try {
    // #ifdef H5
    if (leaving && typeof fetch === 'function') {
      // keepalive lets the request outlive the page; sendBeacon could not carry the token or the device id.
      fetch(`${API_BASE}/track`, { method: 'POST', headers: headers(), body, keepalive: true }).catch(() => {})
      return
    }
    // #endif
    uni.request({ url: `${API_BASE}/track`, method: 'POST', header: headers(), data: body, fail() {} })
  } catch (e) { /* best effort */ }
  if (queue.length) flush({ leaving })
}

// #ifdef H5
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => flush({ leaving: true }))
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush({ leaving: true })
  })
}
// #endif
