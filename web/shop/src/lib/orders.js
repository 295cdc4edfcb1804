// Order statuses as the buyer reads them (specs/api.md), and what the buyer may do in each.
export const STATUS_TEXT = {
  PENDING_PAYMENT: '待付款',
  AWAITING_GROUP: '待成团',
  PAID: '待发货',
  SHIPPED: '待收货',
  COMPLETED: '已完成',
  CANCELLED: '已取消',
  REFUND_REQUESTED: '退款申请中',
  REFUNDING: '退款中',
  REFUNDED: '已退款',
  REFUND_FAILED: '退款失败，商家处理中',
}

export const CANCEL_TEXT = {
  BUYER: '你取消了订单',
  TIMEOUT: '超时未付款，已自动取消',
  ADMIN: '商家取消了订单',
  GROUP_FAILED: '拼团未成功，订单已取消',
}

export function statusText(order) {
  return STATUS_TEXT[order.status] || order.status
}

export const canPay = (order) => order.status === 'PENDING_PAYMENT'
export const canCancel = (order) => order.status === 'PENDING_PAYMENT'
export const canConfirm = (order) => order.status === 'SHIPPED'
export const canAskRefund = (order) => ['PAID', 'SHIPPED', 'COMPLETED'].includes(order.status)
