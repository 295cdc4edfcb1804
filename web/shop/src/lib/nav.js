// Page addresses and moves between pages. uni's routes are the same in both builds (/pages/x/x?query); in the
// browser they live under /shop/ (manifest.json h5.router.base), which hrefs need and uni's router adds itself.
export const BASE = '/shop'

export function href(url) {
  // #ifdef H5
  return BASE + url
  // #endif
  // #ifndef H5
  return url
  // #endif
}

export function pageUrl(path, params) {
  const parts = Object.entries(params || {})
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${key}=${encodeURIComponent(value)}`)
  return parts.length ? `${path}?${parts.join('&')}` : path
}

export function go(url) {
  uni.navigateTo({ url })
}

export function replace(url) {
  uni.redirectTo({ url })
}

export function home() {
  uni.reLaunch({ url: '/pages/index/index' })
}

export function back() {
  if (getCurrentPages().length > 1) uni.navigateBack()
  else home()
}

export function currentUrl() {
  const pages = getCurrentPages()
  const page = pages[pages.length - 1]
  if (!page) return '/pages/index/index'
  const meta = page.$page || {}
  if (meta.fullPath) return meta.fullPath
  return pageUrl(`/${page.route}`, page.options)
}

let leaving = false
// Opens the login page, then comes back to the page that needed it.
export function loginPage() {
  const here = currentUrl()
  if (leaving || here.startsWith('/pages/login/login')) return
  leaving = true
  setTimeout(() => { leaving = false }, 500)
  uni.redirectTo({ url: pageUrl('/pages/login/login', { redirect: here }) })
}
