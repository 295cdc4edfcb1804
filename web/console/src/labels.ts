// What the merchant reads for the mall's codes.

export const ORDER_STATUSES: Record<string, string> = {
  PENDING_PAYMENT: "待付款",
  PAID: "待发货",
  AWAITING_GROUP: "待成团",
  SHIPPED: "已发货",
  COMPLETED: "已完成",
  CANCELLED: "已取消",
  REFUND_REQUESTED: "退款待审核",
  REFUNDING: "退款中",
  REFUNDED: "已退款",
  REFUND_FAILED: "退款失败",
};

export const CANCEL_REASONS: Record<string, string> = {
  BUYER: "买家取消", TIMEOUT: "超时未付款", ADMIN: "商家取消", GROUP_FAILED: "拼团失败",
};

export const REFUND_STATUSES: Record<string, string> = {
  PROCESSING: "处理中", SUCCESS: "已退回", CLOSED: "已关闭", ABNORMAL: "异常", FAILED: "失败",
};

export const COUPON_KINDS: Record<string, string> = {
  AMOUNT_OFF: "满减券", PERCENT_OFF: "折扣券", NO_THRESHOLD: "无门槛券",
};

export const NOTIFICATION_KINDS: Record<string, string> = {
  ORDER_PAID: "订单已付款",
  ORDER_SHIPPED: "订单已发货",
  REFUND_SETTLED: "退款完成",
  GROUP_SUCCEEDED: "拼团成功",
  GROUP_FAILED: "拼团失败",
  LOW_STOCK: "库存不足",
};

export const NOTIFICATION_STATUSES: Record<string, string> = {
  PENDING: "待发送", SENT: "已发送", NOT_SUBSCRIBED: "未订阅", FAILED: "发送失败",
};

export const PERMISSIONS: Record<string, string> = {
  "orders.view": "查看订单",
  "orders.ship": "发货",
  "orders.cancel": "取消订单",
  "refunds.decide": "审核退款",
  "payments.view": "查看支付异常",
  "catalog.view": "查看商品",
  "catalog.edit": "编辑商品",
  "stock.adjust": "调整库存",
  "marketing.manage": "营销管理",
  "segments.grant": "向人群发券",
  "staff.manage": "员工管理",
};

export const BACKFILL_STATUSES: Record<string, string> = { RUNNING: "进行中", DONE: "已完成", CANCELLED: "已取消" };

export const ROLES: Record<string, string> = { owner: "店主", operator: "运营" };

export function label(table: Record<string, string>, code: string | null | undefined): string {
  if (!code) return "—";
  return table[code] ?? code;
}
