import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { storedToken } from "./api/client";
import { loadStaff, session } from "./session";

// A page per route, named after what the merchant does there; each is its own chunk.
const routes: RouteRecordRaw[] = [
  { path: "/login", name: "login", component: () => import("./pages/LoginPage.vue"), meta: { public: true, title: "登录" } },
  { path: "/", name: "dashboard", component: () => import("./pages/DashboardPage.vue"), meta: { title: "经营概况" } },
  { path: "/analytics/backfill", name: "backfill", component: () => import("./pages/BackfillPage.vue"), meta: { title: "历史订单回补" } },
  { path: "/analytics/backfill/:jobId", name: "backfill-job", component: () => import("./pages/BackfillPage.vue"), props: true, meta: { title: "历史订单回补" } },
  { path: "/orders", name: "orders", component: () => import("./pages/OrdersPage.vue"), meta: { title: "订单" } },
  { path: "/orders/:orderId", name: "order", component: () => import("./pages/OrderPage.vue"), props: true, meta: { title: "订单详情" } },
  { path: "/payment-anomalies", name: "payment-anomalies", component: () => import("./pages/PaymentAnomaliesPage.vue"), meta: { title: "支付异常" } },
  { path: "/products", name: "products", component: () => import("./pages/ProductsPage.vue"), meta: { title: "商品" } },
  { path: "/products/new", name: "product-new", component: () => import("./pages/ProductEditPage.vue"), meta: { title: "新建商品" } },
  { path: "/products/:productId", name: "product", component: () => import("./pages/ProductEditPage.vue"), props: true, meta: { title: "编辑商品" } },
  { path: "/categories", name: "categories", component: () => import("./pages/CategoriesPage.vue"), meta: { title: "类目" } },
  { path: "/coupons", name: "coupons", component: () => import("./pages/CouponTemplatesPage.vue"), meta: { title: "优惠券" } },
  { path: "/flash-sales", name: "flash-sales", component: () => import("./pages/FlashSalesPage.vue"), meta: { title: "秒杀" } },
  { path: "/groupbuy", name: "groupbuy", component: () => import("./pages/GroupBuyPage.vue"), meta: { title: "拼团" } },
  { path: "/segments", name: "segments", component: () => import("./pages/SegmentsPage.vue"), meta: { title: "人群" } },
  { path: "/member-levels", name: "member-levels", component: () => import("./pages/MemberLevelsPage.vue"), meta: { title: "会员等级" } },
  { path: "/notifications", name: "notifications", component: () => import("./pages/NotificationsPage.vue"), meta: { title: "通知与库存预警" } },
  { path: "/staff", name: "staff", component: () => import("./pages/StaffPage.vue"), meta: { title: "员工与会话" } },
  { path: "/account", name: "account", component: () => import("./pages/AccountPage.vue"), meta: { title: "我的账号" } },
  { path: "/:unknown(.*)*", name: "not-found", component: () => import("./pages/NotFoundPage.vue"), meta: { title: "页面不存在" } },
];

export const router = createRouter({ history: createWebHistory(import.meta.env.BASE_URL), routes });

router.beforeEach(async (to) => {
  if (to.meta.public) return true;
  if (!storedToken()) return { name: "login", query: { next: to.fullPath } };
  if (!session.staff) {
    try {
      await loadStaff();
    } catch {
      // a 401 has already signed the person out (whenSignedOut); anything else: the page shows its own error
      if (!storedToken()) return { name: "login", query: { next: to.fullPath } };
    }
  }
  return true;
});

router.afterEach((to) => {
  document.title = `${String(to.meta.title ?? "")} · micromall 商家后台`;
});
