import { get, query } from './http'

// The home page's four reads, started as early as possible: App.onLaunch starts them when the app opens on the
// home page, so they travel while the page's own code is still loading (the first render is what a buyer waits
// on). Each is used once; a later visit reads afresh.
let started = null

export function startHomeReads() {
  if (!started) {
    started = {
      categories: get('/catalog/categories'),
      flashSales: get('/marketing/flash-sales'),
      campaigns: get('/groupbuy/campaigns'),
      products: get(`/catalog/products${query({ limit: 10 })}`),
    }
    // Nobody may be listening yet: a failure is reported by the page that takes the reads, not as unhandled.
    Object.values(started).forEach((read) => read.catch(() => {}))
  }
  return started
}

export function takeHomeReads() {
  const reads = startHomeReads()
  started = null
  return reads
}
