import { yuan } from './money'

// A coupon's terms in words: 满99减10, 9折 最高减50, 无门槛减5.
export function couponTerms(c) {
  if (c.kind === 'PERCENT_OFF') {
    const rate = (100 - c.percent_off) / 10
    const cap = c.max_discount ? `，最高减 ${yuan(c.max_discount)}` : ''
    const floor = c.min_spend ? `满 ${yuan(c.min_spend)} ` : ''
    return `${floor}${rate}折${cap}`
  }
  if (c.kind === 'NO_THRESHOLD' || !c.min_spend) return `无门槛减 ${yuan(c.amount_off)}`
  return `满 ${yuan(c.min_spend)} 减 ${yuan(c.amount_off)}`
}

export function couponHeadline(c) {
  return c.kind === 'PERCENT_OFF' ? `${(100 - c.percent_off) / 10}折` : yuan(c.amount_off)
}

export function scopeText(scope) {
  if (!scope || scope.kind === 'ALL') return '全场通用'
  return scope.kind === 'CATEGORIES' ? '指定分类可用' : '指定商品可用'
}

export const COUPON_STATUS = { AVAILABLE: '可使用', LOCKED: '待支付订单占用', USED: '已使用', EXPIRED: '已过期' }
