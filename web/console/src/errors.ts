// The mall answers in English with a stable code; the merchant reads Chinese. Known codes get a sentence here,
// and the server's own message stays beside it (it names the field, the permission, the number).
import type { ApiError } from "./api/client";
import { label, PERMISSIONS } from "./labels";

const SENTENCES: Record<string, string> = {
  INVALID_CREDENTIALS: "用户名或密码不正确",
  LOGIN_LOCKED: "登录失败次数过多，请稍后再试",
  ACCOUNT_INACTIVE: "这个员工账号已停用或不存在",
  ACCOUNT_DISABLED: "这个员工账号已停用",
  SESSION_ENDED: "登录已失效（已在别处退出、被店主结束，或密码已修改），请重新登录",
  TOKEN_EXPIRED: "登录已过期，请重新登录",
  INVALID_TOKEN: "登录凭证无效，请重新登录",
  UNAUTHENTICATED: "请先登录",
  WRONG_PASSWORD: "当前密码不正确",
  INVALID_PASSWORD: "新密码不符合要求",
  VALIDATION_ERROR: "填写的内容有误",
  INVALID_ORDER_STATUS: "订单当前状态不能进行这个操作（可能已被他人处理），请刷新",
  CONCURRENT_EDIT: "内容刚被他人修改，请刷新后重试",
  INSUFFICIENT_STOCK: "库存不足",
  OUT_OF_STOCK: "库存不足",
  STOCK_BELOW_TAKEN: "不能低于已售出或已锁定的数量",
  STOCK_LIMIT_EXCEEDED: "库存超过上限",
  TOTAL_BELOW_CLAIMED: "发行量不能低于已领取数量",
  INVALID_TEMPLATE: "优惠券设置不成立",
  INVALID_LEVELS: "会员等级设置不成立",
  INVALID_CAMPAIGN_WINDOW: "活动时间不成立",
  CATEGORY_TOO_DEEP: "类目最多三级",
  CATEGORY_EXISTS: "同级下已有同名类目",
  DUPLICATE_SPECS: "有两个规格完全相同",
  SPEC_NAMES_DIFFER: "各规格的规格名必须一致",
  TOO_MANY_SKUS: "规格太多（最多 99 个）",
  INVALID_DATE: "日期格式不正确（YYYY-MM-DD）",
  INVALID_RANGE: "日期范围不成立：开始日期不能晚于结束日期，结束日期不能晚于今天（店铺时区）",
  RANGE_TOO_LONG: "日期范围太长",
  BACKFILL_NOT_FOUND: "找不到这个回补任务",
  BACKFILL_DONE: "这次回补已经完成，没有可以取消的了",
  BACKFILL_NOT_RUNNING: "这次回补已经结束（已完成或已取消），不能继续；需要时请重新开始一次",
  BUSY: "系统繁忙，请稍后重试",
  RATE_LIMITED: "操作太频繁，请稍后重试",
  NETWORK: "无法连接服务器，请检查网络后重试",
};

/** The sentence a person reads for an API error (the server's message is shown beside it). */
export function sentence(error: ApiError): string {
  if (error.code === "PERMISSION_DENIED") {
    const permission = (error.details as { permission?: string } | undefined)?.permission;
    return permission ? `你的账号没有“${label(PERMISSIONS, permission)}”权限，请联系店主授权` : "你的账号没有这个操作的权限";
  }
  if (SENTENCES[error.code]) return SENTENCES[error.code];
  if (error.status === 404) return "要找的内容不存在（可能已被删除）";
  if (error.status === 403) return "没有权限进行这个操作";
  return "";
}
