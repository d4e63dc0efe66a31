// Money arrives as decimal strings; it is summed with BigInt at a fixed scale, never as floats.
const SCALE = 6;

function toUnits(amount: string | number): bigint {
  const trimmed = String(amount).trim();
  const negative = trimmed.startsWith("-");
  const [whole = "0", fraction = ""] = trimmed.replace(/^[-+]/, "").split(".");
  const units = BigInt(whole || "0") * 10n ** BigInt(SCALE) + BigInt((fraction + "0".repeat(SCALE)).slice(0, SCALE) || "0");
  return negative ? -units : units;
}

function fromUnits(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const base = 10n ** BigInt(SCALE);
  const whole = abs / base;
  const fraction = (abs % base).toString().padStart(SCALE, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction.padEnd(2, "0")}` : ".00"}`;
}

/** Exact sum of decimal strings. */
export function sumDecimals(amounts: readonly (string | number)[]): string {
  return fromUnits(amounts.reduce((total, amount) => total + toUnits(amount), 0n));
}

/** Totals per currency of `rows`. */
export function totalsByCurrency<T>(rows: readonly T[], amount: (row: T) => string | number, currency: (row: T) => string): Record<string, string> {
  const groups: Record<string, (string | number)[]> = {};
  for (const row of rows) (groups[currency(row)] ??= []).push(amount(row));
  return Object.fromEntries(Object.entries(groups).map(([code, amounts]) => [code, sumDecimals(amounts)]));
}

/** Locale formatting of the API's exact decimal string (Intl formats decimal strings exactly). */
export function formatMoney(amount: string | number | null | undefined, currency = "USD"): string {
  if (amount === null || amount === undefined || amount === "") return "—";
  try {
    const format = new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: 2 });
    return format.format(amount as unknown as number);
  } catch {
    return `${amount} ${currency}`;
  }
}

export function formatPercent(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  return `${new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(value as number)}%`;
}

/** A money map from the API ({"USD": "12.50"}) as display text, one entry per currency. */
export function formatMoneyMap(values: Record<string, string | number> | undefined): string {
  const entries = Object.entries(values ?? {});
  if (!entries.length) return formatMoney("0");
  return entries.map(([currency, amount]) => formatMoney(amount, currency)).join(" · ");
}
