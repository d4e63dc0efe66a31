import { describe, expect, it } from "vitest";
import { GRANTABLE_RESOURCES, actionsFor, toPermissions, toRows } from "./permissions";

describe("permission rows", () => {
  it("store account constraints by id and omit them when empty", () => {
    const rows = [
      { resource: "accounts" as const, action: "view" as const, accounts: ["a1", "a2"] },
      { resource: "config" as const, action: "view" as const, accounts: [] },
    ];
    const permissions = toPermissions(rows);
    expect(permissions).toEqual([
      { resource: "accounts", action: "view", constraints: { accounts: ["a1", "a2"] } },
      { resource: "config", action: "view" },
    ]);
    expect(toRows(permissions)).toEqual(rows);
  });

  it("offers only the actions a resource has", () => {
    expect(actionsFor("history")).toEqual(["view"]);
    expect(actionsFor("recommendations")).toEqual(["view", "refresh"]);
    expect(GRANTABLE_RESOURCES).not.toContain("users");
  });
});
