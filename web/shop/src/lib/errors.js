import { yuan } from './money'

// What an API error means to the buyer, in words. Unknown codes fall back to the server's own message, so a new
// error is still shown, never swallowed.
const WORDS = {
  NETWORK: '网络连接失败，请检查网络后重试',
  OUT_OF_STOCK: '库存不足，请减少数量或换个规格',
  SOLD_OUT: '已抢光',
  LIMIT_REACHED: '已达到限购数量',
  SALE_NOT_RUNNING: '秒杀不在进行中',
  SKU_NOT_IN_SALE: '该规格不参加秒杀',
  FLASH_SALE_NO_DISCOUNTS: '秒杀商品不能使用优惠券或积分',
  CAMPAIGN_NOT_RUNNING: '拼团活动不在进行中',
  GROUP_FULL: '这个团已经满员了',
  GROUP_NOT_OPEN: '这个团已结束，不能再加入',
  ALREADY_IN_GROUP: '你已经在这个团里了',
  OWN_GROUP: '这是你自己开的团，分享给好友来参团吧',
  COUPON_NOT_APPLICABLE: '拼团订单不能使用优惠券',
  POINTS_NOT_APPLICABLE: '拼团订单不能使用积分',
  COUPON_LOCKED: '这张优惠券已被另一笔待支付订单占用',
  COUPON_USED: '这张优惠券已使用',
  COUPON_EXPIRED: '这张优惠券已过期',
  COUPON_NOT_YET_VALID: '这张优惠券尚未生效',
  COUPON_OUT_OF_SCOPE: '这张优惠券不适用于所选商品',
  COUPON_BELOW_MIN_SPEND: '未达到这张优惠券的最低消费',
  COUPON_NOT_FOUND: '找不到这张优惠券',
  COUPON_ENDED: '这个优惠券活动已结束',
  INSUFFICIENT_POINTS: '积分余额不足',
  INVALID_ORDER_STATUS: '订单状态已变化，请刷新后再试',
  ORDER_NOT_PAYABLE: '订单当前不能支付',
  ORDER_ALREADY_PAID: '订单已支付，正在确认中',
  REFUND_WINDOW_CLOSED: '已超过售后期，不能再申请退款',
  SKU_NOT_FOUND: '商品不存在或已下架',
  SKU_NOT_ON_SALE: '商品已下架',
  CART_FULL: '购物车已满，请先结算或删除一些商品',
  QUANTITY_LIMIT: '单个商品最多购买 99 件',
  ADDRESS_LIMIT: '地址簿已满',
  RATE_LIMITED: '操作太频繁，请稍后再试',
  BUSY: '太火爆了，请稍后再试',
  INVALID_CODE: '登录码无效，请重试',
  USER_BLOCKED: '该微信账号已被限制登录',
  ACCOUNT_DELETED: '账号已注销',
  INVALID_STATE: '这次登录不是在本页面发起的，请重新登录',
  STATE_EXPIRED: '登录已超时，请重新登录',
  INVALID_REDIRECT: '登录后要返回的页面无效，请重新登录',
  DEVICE_ID_REQUIRED: '浏览器存储不可用，无法登录：请关闭无痕模式后重试',
  NOT_CONFIGURED: '商城尚未开通该登录方式，请在微信小程序中打开商城',
  WECHAT_PAY_UNAVAILABLE: '当前登录方式无法使用微信支付：请在微信中用“微信登录”后支付，或使用支付宝支付',
  WECHAT_PAY_STARTED_ELSEWHERE: '这笔订单的微信支付已在别处（微信小程序或微信内网页）发起：请回到那里完成支付，或使用支付宝支付',
}

const FIELDS = {
  name: '收货人', phone: '手机号', province: '省份', city: '城市', district: '区县', detail: '详细地址',
  reason: '退款原因', quantity: '数量', points: '积分', note: '备注', code: '登录码',
}

export function describe(error) {
  if (!error) return ''
  if (error.code === 'POINTS_EXCEED_LIMIT') {
    const max = error.details && error.details.points_max
    return max === undefined ? '积分超过本单可用上限' : `本单最多可用 ${max} 积分（抵 ${yuan(max)}）`
  }
  if (error.code === 'OUT_OF_STOCK' && error.details && Array.isArray(error.details.lines)) {
    const line = error.details.lines[0]
    if (line) return `库存不足：还剩 ${line.available} 件，你要了 ${line.requested} 件`
  }
  if (error.code === 'VALIDATION_ERROR' && Array.isArray(error.details)) {
    const names = [...new Set(error.details.map((d) => FIELDS[String(d.field).split('.').pop()] || d.field))]
    return `请检查：${names.join('、')}`
  }
  if (error.status === 503) return WORDS.BUSY
  return WORDS[error.code] || error.message || '出错了，请稍后再试'
}

// Why a coupon does not apply to this basket (POST /orders/preview's coupons[].reason).
export function couponReason(reason, coupon) {
  switch (reason) {
    case 'BELOW_MIN_SPEND':
      return coupon && coupon.min_spend ? `未满 ${yuan(coupon.min_spend)}，不可用` : '未达到最低消费，不可用'
    case 'OUT_OF_SCOPE':
      return '不适用于所选商品'
    case 'NOT_YET_VALID':
      return coupon && coupon.valid_from ? `${coupon.valid_from.slice(0, 10)} 起可用` : '尚未生效'
    case 'EXPIRED':
      return '已过期'
    default:
      return reason ? `不可用（${reason}）` : ''
  }
}
