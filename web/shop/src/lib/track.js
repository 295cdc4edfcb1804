import { API_BASE } from './config'
import { session } from './session'
import { deviceId } from './storage'
import { serverNow } from './http'

// Behaviour events (PAGE_VIEW, PRODUCT_VIEW, SEARCH, SHARE) for the merchant's funnel: POST /track, batched,
// best effort. Nothing waits on it and nothing it answers (an error, a 404 where the route is not deployed, no
// network) reaches the buyer or ends their session.
// A batch refused for now (429 over the device's or the IP's limit, a 5xx, no network) is kept, with each event's
// own `at`, and sent again after the answer's Retry-After, else after a backoff (2 s doubling to 60 s, jittered so
// phones back from one outage do not return together). One timer at a time: while a retry waits nothing is posted,
// and batches refused meanwhile join it. At most MAX_QUEUED events are kept (the oldest go first). Any other answer
// ends the batch: sending it again would be answered the same.
const MAX_BATCH = 50
const MAX_QUEUED = 500
const FLUSH_AFTER_MS = 1500
const BACKOFF_FIRST_MS = 2000
const BACKOFF_MAX_MS = 60000
const RETRY_AFTER_MAX_S = 600
let queue = []
let timer = null // the one pending timer: the next batch, or a refused batch's retry
let retrying = false // a refused batch waits for its retry: nothing is sent before it
let refusals = 0 // in a row, for the backoff

export function track(type, fields = {}) {
  keep([{ type, ...fields, at: new Date(serverNow()).toISOString() }], false)
  if (retrying) return
  if (queue.length >= MAX_BATCH) flush()
  else if (!timer) timer = setTimeout(flush, FLUSH_AFTER_MS)
}

function keep(events, first) {
  queue = first ? events.concat(queue) : queue.concat(events)
  if (queue.length > MAX_QUEUED) queue = queue.slice(queue.length - MAX_QUEUED)
}

function headers() {
  const header = { 'Content-Type': 'application/json', 'X-Device-Id': deviceId() }
  if (session.token) header.Authorization = `Bearer ${session.token}`
  return header
}

export function flush({ leaving = false } = {}) {
  // A refused batch waiting for its retry keeps the queue: sent now, it would be refused again (and a hidden page
  // often comes back; one that is closing loses them, as it would have lost the refused batch).
  if (retrying) return
  clearTimeout(timer)
  timer = null
  if (!queue.length) return
  // #ifdef H5
  if (leaving && typeof fetch === 'function') {
    // keepalive lets the request outlive the page; sendBeacon could not carry the token or the device id. Its
    // answer is not waited for: the page may be gone.
    while (queue.length) {
      const body = JSON.stringify({ events: queue.splice(0, MAX_BATCH) })
      fetch(`${API_BASE}/track`, { method: 'POST', headers: headers(), body, keepalive: true }).catch(() => {})
    }
    return
  }
  // #endif
  while (queue.length) send(queue.splice(0, MAX_BATCH))
}

// Batches go out side by side: one that never answers holds up no other.
function send(events) {
  try {
    uni.request({
      url: `${API_BASE}/track`, method: 'POST', header: headers(), data: JSON.stringify({ events }),
      success(response) {
        const status = response.statusCode
        if (status === 429 || status >= 500) refused(events, retryAfter(response))
        else refusals = 0
      },
      fail() {
        refused(events, null)
      },
    })
  } catch (e) { /* best effort: a platform without the request API keeps the page working */ }
}

function refused(events, seconds) {
  keep(events, true)
  if (retrying) return // a retry is already due: these go with it
  const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, refusals)) * (0.5 + Math.random() / 2)
  refusals += 1
  retrying = true
  clearTimeout(timer)
  timer = setTimeout(() => {
    retrying = false
    timer = null
    flush()
  }, seconds === null ? backoff : seconds * 1000)
}

// Whole seconds from the Retry-After header (the mall's 429, API Gateway's 503) or the 429's details; null: back off.
function retryAfter(response) {
  const header = response.header || {}
  const body = response.data && response.data.error
  const raw = header['Retry-After'] || header['retry-after'] || (body && body.details && body.details.retry_after_seconds)
  const seconds = Number(raw)
  return raw !== undefined && raw !== '' && seconds >= 0 ? Math.min(Math.max(seconds, 1), RETRY_AFTER_MAX_S) : null
}

// #ifdef H5
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => flush({ leaving: true }))
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush({ leaving: true })
  })
}
// #endif
