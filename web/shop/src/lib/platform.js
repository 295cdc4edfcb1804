import { get, post, query } from './http'
import { session, signIn } from './session'
import { SUBSCRIBE_TEMPLATE_IDS } from './config'
import { href } from './nav'

// What differs between the browser and the mini-program: how a buyer proves who they are, how an order is paid,
// how a page is shared. Everything else is the same code in both builds.

// The mini-program: wx.login's one-time code, exchanged by POST /auth/login (jscode2session on the server).
// The H5 site: the code is typed in; on the local sandbox any `dev:<name>` is a stable test buyer.
export async function login(sandboxName) {
  let code = ''
  // #ifdef MP-WEIXIN
  code = await new Promise((resolve, reject) => {
    uni.login({ provider: 'weixin', success: (res) => resolve(res.code), fail: reject })
  })
  // #endif
  // #ifndef MP-WEIXIN
  code = `dev:${sandboxName}`
  // #endif
  const answer = await post('/auth/login', { code }, { auth: false })
  signIn(answer.token, answer.user)
  return answer.user
}

// #ifndef MP-WEIXIN
// The H5 site's own login: WeChat's web authorization inside WeChat's browser, Alipay's in any other. The mall
// answers the provider's address and a state bound to the page to come back to and to this browser's device id
// (GET /auth/web/{provider}/authorize); the provider sends the browser back to the login page with a code
// (Alipay: auth_code) and the state, which POST /auth/web/{provider}/login exchanges for the mall's token.
export function webLoginProvider() {
  return inWeChatBrowser() ? 'wechat' : 'alipay'
}

export function inWeChatBrowser() {
  return /MicroMessenger/i.test((typeof navigator !== 'undefined' && navigator.userAgent) || '')
}

// WeChat Pay in WeChat's browser pays under the official account, by the identity its web login gave the buyer.
export function weChatPayHere() {
  return inWeChatBrowser() && session.via === 'wechat'
}

const PAGE_PATH = /^\/pages\/[A-Za-z0-9_/-]{1,120}$/
const QUERY = /^[A-Za-z0-9_.~%=&+-]{0,400}$/

// The page to come back to, as the mall takes it (a storefront path, its query percent-encoded); else the member page.
export function loginRedirect(url) {
  const [path, rawQuery = ''] = String(url || '').split('?', 2)
  if (!PAGE_PATH.test(path) || path.includes('//')) return '/pages/member/member'
  const encoded = rawQuery.split('&').filter(Boolean).map((pair) => {
    const [key, value = ''] = pair.split('=', 2)
    const clean = (text) => { try { return encodeURIComponent(decodeURIComponent(text)) } catch (e) { return '' } }
    return `${clean(key)}=${clean(value)}`
  }).join('&')
  return encoded && QUERY.test(encoded) ? `${path}?${encoded}` : path
}

export function startWebLogin(provider, redirect) {
  return get(`/auth/web/${provider}/authorize${query({ redirect })}`, { auth: false })
}

export async function finishWebLogin(provider, code, state, redirect) {
  const answer = await post(`/auth/web/${provider}/login`, { code, state, redirect }, { auth: false })
  signIn(answer.token, answer.user, provider)
  return answer
}

// The local payment sandbox: its cashier addresses are on the reserved .invalid top-level domain (RFC 2606),
// which can never resolve, so an address there means "no real provider: pay through /payments/sandbox/pay".
export function isSandboxAddress(url) {
  const match = /^https?:\/\/([^/?#]+)/i.exec(url || '')
  return Boolean(match) && /\.invalid(:\d+)?$/i.test(match[1])
}

// The sandbox's official account names itself with a hyphen no WeChat appid has (wx + 16 hex digits): prepay
// parameters for it mean "no WeixinJSBridge here: the sandbox plays WeChat's browser (/payments/sandbox/pay)".
export function isSandboxAppId(appId) {
  return /^wx-sandbox-/.test(appId || '')
}

// WeChat's browser defines WeixinJSBridge itself, sometimes only after the page started (WeixinJSBridgeReady).
const BRIDGE_WAIT_MS = 10000

function weixinBridge() {
  if (typeof window.WeixinJSBridge !== 'undefined') return Promise.resolve(window.WeixinJSBridge)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('微信支付未就绪，请稍后重试或使用支付宝支付'),
      { code: 'WECHAT_BRIDGE_MISSING' })), BRIDGE_WAIT_MS)
    document.addEventListener('WeixinJSBridgeReady', () => {
      clearTimeout(timer)
      resolve(window.WeixinJSBridge)
    }, { once: true })
  })
}

async function payInWeChatBrowser(params) {
  const bridge = await weixinBridge()
  const request = { appId: params.appId, timeStamp: params.timeStamp, nonceStr: params.nonceStr,
    package: params.package, signType: params.signType, paySign: params.paySign }
  await new Promise((resolve, reject) => {
    bridge.invoke('getBrandWCPayRequest', request, (res) => {
      if (res && res.err_msg === 'get_brand_wcpay_request:ok') resolve()
      else reject(Object.assign(new Error('支付未完成'), { code: 'PAYMENT_CANCELLED', detail: res }))
    })
  })
}
// #endif

// Starts paying an order. Answers {done: true} when the provider's cashier finished (the mini-program, WeChat's
// browser), {sandbox: 'alipay' | 'wechat', params} when the local sandbox should complete it, or
// {redirected: true} when the browser is leaving for Alipay's H5 cashier. `method` (the H5 site): 'alipay', or
// 'wechat' inside WeChat's browser (scene wechat_browser: the official account's appid and openid).
export async function startPayment(orderId, method) {
  // #ifdef MP-WEIXIN
  await askForSubscriptions()
  const params = await post('/payments/prepay', { order_id: orderId, provider: 'wechat' })
  await new Promise((resolve, reject) => {
    uni.requestPayment({
      provider: 'wxpay',
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType,
      paySign: params.paySign,
      success: resolve,
      fail: (err) => reject(Object.assign(new Error('支付未完成'), { code: 'PAYMENT_CANCELLED', detail: err })),
    })
  })
  return { done: true }
  // #endif
  // #ifndef MP-WEIXIN
  if (method === 'wechat') {
    const params = await post('/payments/prepay', { order_id: orderId, provider: 'wechat', scene: 'wechat_browser' })
    if (isSandboxAppId(params.appId)) return { sandbox: 'wechat', params }
    await payInWeChatBrowser(params)
    return { done: true }
  }
  const { pay_url: payUrl } = await post('/payments/prepay', { order_id: orderId, provider: 'alipay' })
  if (isSandboxAddress(payUrl)) return { sandbox: 'alipay' }
  window.location.href = payUrl
  return { redirected: true }
  // #endif
}

// #ifndef MP-WEIXIN
// The sandbox's cashier. With WeChat's `params` it plays WeChat's browser: the mall's twin checks them as WeChat's
// client does (paySign, appId, the prepay) and pays that trade through its signed notification.
export function sandboxPay(orderId, params = null) {
  if (!params) return post('/payments/sandbox/pay', { order_id: orderId })
  const { appId, timeStamp, nonceStr, package: pkg, signType, paySign } = params
  return post('/payments/sandbox/pay', {
    order_id: orderId, wechat_jsapi: { appId, timeStamp, nonceStr, package: pkg, signType, paySign } })
}
// #endif

// After a cashier closes, the provider's notification may still be on its way: look at the order a few times.
export async function waitUntilPaid(orderId, { tries = 10, delayMs = 1000 } = {}) {
  let order = null
  for (let i = 0; i < tries; i++) {
    order = await get(`/orders/${orderId}`)
    if (order.status !== 'PENDING_PAYMENT') return order
    await new Promise((resolve) => setTimeout(resolve, delayMs))
  }
  return order
}

// wx.requestSubscribeMessage must run inside a tap, before the payment sheet: each "accept" is one credit for
// the server to send that template once (POST /me/subscriptions).
async function askForSubscriptions() {
  // #ifdef MP-WEIXIN
  if (!SUBSCRIBE_TEMPLATE_IDS.length) return
  try {
    const answer = await new Promise((resolve, reject) => {
      uni.requestSubscribeMessage({ tmplIds: SUBSCRIBE_TEMPLATE_IDS, success: resolve, fail: reject })
    })
    const results = {}
    for (const id of SUBSCRIBE_TEMPLATE_IDS) {
      if (['accept', 'reject', 'ban'].includes(answer[id])) results[id] = answer[id]
    }
    if (Object.keys(results).length) await post('/me/subscriptions', { results })
  } catch (e) { /* declining to subscribe never stops a payment */ }
  // #endif
}

// The H5 share: the system share sheet where the browser has one, else the link copied. (The mini-program
// shares with <button open-type="share"> and the page's onShareAppMessage.)
export async function shareLink(path, title) {
  // #ifdef H5
  const url = window.location.origin + href(path)
  if (navigator.share) {
    try {
      await navigator.share({ title, url })
      return 'shared'
    } catch (e) {
      if (e && e.name === 'AbortError') return 'cancelled'
    }
  }
  await new Promise((resolve) => uni.setClipboardData({ data: url, showToast: false, success: resolve, fail: resolve }))
  return 'copied'
  // #endif
  // #ifndef H5
  return 'menu'
  // #endif
}
