// @vitest-environment jsdom
// (parseEvents lives next to the fetch reader, which imports the browser client.)
import { describe, expect, it } from "vitest";
import { formatMoney, sumDecimals, totalsByCurrency } from "./money";
import { parseEvents } from "./sse";
import { toCsv } from "../pages/recommendations/csv";

describe("money", () => {
  it("sums decimal strings exactly", () => {
    expect(sumDecimals(["0.1", "0.2"])).toBe("0.30");
    expect(sumDecimals(["1234567890.123456", "0.000001"])).toBe("1234567890.123457");
    expect(sumDecimals(["-5.50", "2"])).toBe("-3.50");
    expect(sumDecimals([])).toBe("0.00");
  });

  it("totals per currency, never across", () => {
    const rows = [
      { amount: "10.10", currency: "USD" },
      { amount: "5", currency: "EUR" },
      { amount: "0.90", currency: "USD" },
    ];
    expect(totalsByCurrency(rows, (r) => r.amount, (r) => r.currency)).toEqual({ USD: "11.00", EUR: "5.00" });
  });

  it("formats with the currency", () => {
    expect(formatMoney("1234.5", "USD")).toMatch(/1,234\.50/);
    expect(formatMoney(null)).toBe("—");
  });
});

describe("parseEvents", () => {
  it("splits complete events and keeps the rest", () => {
    const { events, rest } = parseEvents('event: account\ndata: {"a":1}\n\n: keep-alive\n\nevent: run\ndata: {"status":');
    expect(events).toEqual([{ event: "account", data: '{"a":1}' }]);
    expect(rest).toBe('event: run\ndata: {"status":');
  });
});

describe("toCsv", () => {
  it("quotes and defuses spreadsheet formulas", () => {
    expect(toCsv(["a", "b"], [["x,y", "=HYPERLINK(1)"], ["-5.00", null]])).toBe('a,b\r\n"x,y",\'=HYPERLINK(1)\r\n-5.00,\r\n');
  });
});
