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
