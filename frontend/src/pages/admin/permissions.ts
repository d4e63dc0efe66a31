// The permission editor's rows ⇄ the API's Permission objects (constraints store account ids).
import type { Permission } from "../../api/client";
import { actionValues, resourceValues } from "../../api/schema";

export type Resource = Permission["resource"];
export type Action = Permission["action"];

// Which actions mean something for which resource (SPEC §2); limited to the values the API knows.
const MEANINGFUL: Record<string, readonly string[]> = {
  accounts: ["view", "create", "update", "delete", "manage_credentials", "test_credentials", "discover_org"],
  recommendations: ["view", "refresh"],
  plans: ["view", "create", "update", "delete", "execute", "approve"],
  history: ["view"],
  config: ["view", "update"],
};

export const GRANTABLE_RESOURCES: Resource[] = resourceValues.filter((r) => r in MEANINGFUL);

export function actionsFor(resource: Resource): Action[] {
  const meaningful = MEANINGFUL[resource] ?? [];
  return actionValues.filter((a) => meaningful.includes(a));
}

export interface PermissionRow {
  resource: Resource;
  action: Action;
  /** Account ids; empty = every account. */
  accounts: string[];
}

export function toRows(permissions: Permission[]): PermissionRow[] {
  return permissions.map((p) => ({ resource: p.resource, action: p.action, accounts: p.constraints?.accounts ?? [] }));
}

export function toPermissions(rows: PermissionRow[]): Permission[] {
  return rows.map((row) => ({
    resource: row.resource,
    action: row.action,
    ...(row.accounts.length ? { constraints: { accounts: row.accounts } } : {}),
  }));
}
