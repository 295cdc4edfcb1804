// GET /admin/dashboard?from=&to= (built on the analytics branch). Once that route is in the app's OpenAPI document,
// `Dashboard` is the generated type, so a renamed field fails the build like every other route's; until then it is
// the contract below, written from the analytics branch's response models (chalicelib/analytics/views.py).
import { getJson } from "./client";
import type { paths } from "./schema";

type Funnel = { visitors: number; product_viewers: number; cart_adders: number; order_creators: number; payers: number };
type Figures = {
  gmv: number; net_gmv: number; refunds: number; orders: number; paid_orders: number; buyers: number; new_buyers: number;
  average_order_value: number; repeat_buyer_rate: number; page_views: number; product_views: number; searches: number;
  shares: number; cart_adds: number;
};
type Contract = {
  from: string;
  to: string;
  time_zone: string;
  totals: Figures;
  by_day: (Figures & { day: string; funnel: Funnel })[];
  orders_by_status: Record<string, number>;
  funnel: Funnel;
  distinct: { method: string; standard_error: number };
  top_products: { product_id: string; title: string | null; views: number; cart_adds: number; units: number; paid_amount: number }[];
  campaigns: { kind: string; campaign_id: string; name: string | null; orders: number; paid_orders: number; paid_amount: number; discount: number }[];
};

type Generated = paths extends { "/admin/dashboard": { get: { responses: { 200: { content: { "application/json": infer D } } } } } }
  ? D : never;
export type Dashboard = [Generated] extends [never] ? Contract : Generated;

export function loadDashboard(from: string, to: string): Promise<Dashboard> {
  const query = new URLSearchParams();
  if (from) query.set("from", from);
  if (to) query.set("to", to);
  const suffix = query.toString();
  return getJson<Dashboard>("/admin/dashboard" + (suffix ? `?${suffix}` : ""));
}
