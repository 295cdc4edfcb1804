// Money is integer fen in the API and ¥12.34 on screen; inputs in yuan are parsed without floats.

export function yuan(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return "—";
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}¥${whole}.${String(abs % 100).padStart(2, "0")}`;
}

/** "12.3" -> 1230 fen; null when the text is not an amount with at most two decimals. */
export function parseYuan(text: string): number | null {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

/** 1230 -> "12.30", for prefilling a yuan input. */
export function fenToInput(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return "";
  return (fen / 100).toFixed(2);
}

const timeFormat = new Intl.DateTimeFormat("zh-CN", {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? iso : timeFormat.format(moment);
}

/** An ISO instant for a <input type="datetime-local"> (local time, minutes). */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const moment = new Date(iso);
  const local = new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** A <input type="datetime-local"> value back to an ISO-8601 UTC instant. */
export function fromLocalInput(value: string): string {
  return new Date(value).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function specsText(specs: Record<string, unknown> | null | undefined): string {
  if (!specs) return "";
  return Object.entries(specs).map(([name, value]) => `${name}: ${String(value)}`).join(" / ");
}

export function percent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}
