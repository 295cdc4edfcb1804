// GET /admin/dashboard?from=&to= as the API contract (specs/api.md) describes it. The route is built on
// another branch; until its models are in the OpenAPI document, its answer is typed here from the contract's
// field names, and read tolerantly where the contract leaves the shape open (a map or a list).
import { getJson } from "./client";

export type Totals = {
  gmv: number;
  net_gmv: number;
  refunds: number;
  orders: number;
  paid_orders: number;
  buyers: number;
  new_buyers: number;
  average_order_value: number;
  repeat_buyer_rate: number;
};

export type Day = Partial<Totals> & { date: string };

export type Funnel = {
  visitors: number;
  product_viewers: number;
  cart_adders: number;
  order_creators: number;
  payers: number;
};

type Named = Record<string, unknown>;

export type Dashboard = {
  from?: string;
  to?: string;
  totals: Totals;
  by_day: Day[];
  orders_by_status: Record<string, number> | Named[];
  funnel: Funnel;
  top_products: Named[];
  campaigns: Named[] | Record<string, Named[]>;
};

export function loadDashboard(from: string, to: string): Promise<Dashboard> {
  const query = new URLSearchParams();
  if (from) query.set("from", from);
  if (to) query.set("to", to);
  const suffix = query.toString();
  return getJson<Dashboard>("/admin/dashboard" + (suffix ? `?${suffix}` : ""));
}

/** orders_by_status as [status, count] pairs, whether the answer is a map or a list of rows. */
export function statusCounts(value: Dashboard["orders_by_status"]): [string, number][] {
  if (Array.isArray(value)) {
    return value.map((row) => [String(row.status ?? ""), Number(row.count ?? row.orders ?? 0)]);
  }
  return Object.entries(value ?? {}).map(([status, count]) => [status, Number(count)]);
}

export type CampaignRow = { kind: string; id: string; name: string; orders: number; paid: number; discount: number };

/** campaigns as rows, whether a flat list (each with its kind) or grouped by kind. */
export function campaignRows(value: Dashboard["campaigns"]): CampaignRow[] {
  const groups: [string, Named[]][] = Array.isArray(value) ? [["", value]] : Object.entries(value ?? {});
  return groups.flatMap(([group, rows]) => rows.map((row) => ({
    kind: String(row.kind ?? row.type ?? group),
    id: String(row.campaign_id ?? row.template_id ?? row.sale_id ?? row.id ?? ""),
    name: String(row.name ?? row.title ?? ""),
    orders: Number(row.orders ?? row.paid_orders ?? 0),
    paid: Number(row.paid_amount ?? row.paid ?? row.gmv ?? 0),
    discount: Number(row.discount ?? row.discount_given ?? row.discount_total ?? 0),
  })));
}

export type ProductRow = { id: string; title: string; units: number; amount: number };

export function productRows(rows: Named[]): ProductRow[] {
  return (rows ?? []).map((row) => ({
    id: String(row.product_id ?? ""),
    title: String(row.title ?? row.name ?? row.product_id ?? ""),
    units: Number(row.units ?? row.quantity ?? row.sold ?? 0),
    amount: Number(row.gmv ?? row.amount ?? row.paid_amount ?? row.sales ?? 0),
  }));
}
