import { randomId } from './storage'

// POST /orders takes an Idempotency-Key: the same body sent again (a retry after a lost answer, a double tap)
// must carry the same key and get the same order; a changed body needs a new key (the API refuses a reused one).
export function keyKeeper() {
  let lastBody = null
  let key = null
  return function keyFor(body) {
    const text = JSON.stringify(body)
    if (text !== lastBody) {
      lastBody = text
      key = randomId('web-', 26)
    }
    return key
  }
}

// POST /marketing/coupons/{id}/claim takes an optional Idempotency-Key. A claim's request is the same every time
// (a buyer may rightly claim a second coupon of a template), so its key is not kept per body: a tap gets a new
// key, and keeps it for the next tap only while that claim's outcome is unknown (no answer, or a 5xx). The
// retry then gets the coupon the lost claim gave, never a second one; a definite answer frees the key.
export function retryKeys() {
  const open = new Map()
  return {
    keyFor(what) {
      if (!open.has(what)) open.set(what, randomId('web-', 26))
      return open.get(what)
    },
    answered(what, error) {
      const unknown = error && (error.status === 0 || error.status >= 500)
      if (!unknown) open.delete(what)
    },
  }
}
