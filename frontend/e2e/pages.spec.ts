import { expect, test, type Page } from "@playwright/test";
import { awsId, pick, screenshot, seeder, serverState, signIn } from "./helpers";

const AZURE_SUB = "3f2b6a1e-5c4d-4e8f-9a0b-1c2d3e4f5a6b";
const TENANT = "11111111-1111-4111-8111-111111111111";

interface Seeded {
  awsA: { id: string; name: string };
  awsB: { id: string; name: string };
  azure: { id: string; name: string };
}

let seeded: Seeded;

test.describe.configure({ mode: "serial" });

test.beforeAll(async ({ request }) => {
  const api = await seeder(request);
  const state = serverState();
  // The cloud simulator holds recommendations for moto's account; these keys are good there.
  const awsA = await api.post<{ id: string; name: string }>("/api/accounts", {
    name: "prod-payments",
    provider: "aws",
    external_id: state.aws_account,
    credentials: { access_key_id: state.access_key_id, secret_access_key: state.secret_access_key },
  });
  const awsB = await api.post<{ id: string; name: string }>("/api/accounts", {
    name: "prod-analytics",
    provider: "aws",
    external_id: awsId(),
    credentials: { access_key_id: "FAKE-E2E-BAD-KEY", secret_access_key: "bad-secret-bad-secret-bad-secret-000000" },
  });
  const azure = await api.post<{ id: string; name: string }>("/api/accounts", {
    name: "azure-shared",
    provider: "azure",
    external_id: AZURE_SUB,
    azure_tenant_id: TENANT,
  });
  seeded = { awsA, awsB, azure };
});

// Later specs create moto's account again: leave the database as these tests found it.
test.afterAll(async ({ request }) => {
  const api = await seeder(request);
  for (const account of [seeded.awsA, seeded.awsB, seeded.azure]) {
    const response = await request.delete(`/api/accounts/${account.id}`, { headers: { Authorization: `Bearer ${api.token}` } });
    expect(response.status()).toBe(204);
  }
});

test.beforeEach(async ({ page, request }) => {
  await signIn(page, request);
});

async function openAccountFilter(page: Page) {
  await page.getByRole("textbox", { name: "Account", exact: true }).click();
  return page.getByRole("listbox");
}

test("the account filter follows the provider, sends account_ids and survives a reload", async ({ page }) => {
  await page.goto("/recommendations");
  let options = await openAccountFilter(page);
  await expect(options.getByRole("option")).toHaveCount(3);
  await page.keyboard.press("Escape");

  await page.getByRole("textbox", { name: "Provider", exact: true }).click();
  await page.getByRole("option", { name: "AWS", exact: true }).click();
  options = await openAccountFilter(page);
  await expect(options.getByRole("option")).toHaveCount(2);
  await expect(options.getByRole("option", { name: /azure-shared/ })).toHaveCount(0);

  const request = page.waitForRequest((r) => {
    const url = new URL(r.url());
    const ids = (url.searchParams.get("account_ids") ?? "").split(",");
    return url.pathname === "/api/recommendations" && ids.includes(seeded.awsA.id) && ids.includes(seeded.awsB.id);
  });
  await options.getByRole("option", { name: /prod-payments/ }).click();
  await options.getByRole("option", { name: /prod-analytics/ }).click();
  await request;
  await page.keyboard.press("Escape");
  await expect(page).toHaveURL(new RegExp(`account=(${seeded.awsA.id}%2C${seeded.awsB.id}|${seeded.awsB.id}%2C${seeded.awsA.id})`));

  await page.reload();
  const search = page.getByRole("search", { name: "Recommendation filters" });
  await expect(search.getByText("prod-payments", { exact: false })).toBeVisible();
  await expect(search.getByText("prod-analytics", { exact: false })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Provider", exact: true })).toHaveValue("AWS");
  await screenshot(page, "recommendations-filtered");
});

test("Refresh shows per-account progress and a failed account's reason", async ({ page }) => {
  await page.goto("/recommendations");
  await page.getByRole("button", { name: "Refresh recommendations" }).click();
  const progress = page.getByRole("region", { name: "Collection progress" });
  await expect(progress).toBeVisible();
  await expect(progress.getByRole("status")).toContainText(/Run (completed|failed)/, { timeout: 60_000 });
  const failed = progress.getByRole("row").filter({ hasText: "prod-analytics" });
  await expect(failed).toContainText("failed");
  await expect(failed).toContainText("InvalidClientTokenId");
  const ok = progress.getByRole("row").filter({ hasText: "prod-payments" });
  await expect(ok).toContainText("ok");
  // The table refreshes when the run ends: the simulator's recommendations appear.
  const table = page.getByRole("table", { name: "Recommendations" });
  await expect(table).toContainText("c6g.2xlarge");
  await expect(page.getByLabel("Totals of the visible recommendations")).toContainText("shown");
  await screenshot(page, "recommendations-refresh");
  await page.getByRole("button", { name: "Close progress" }).click();
  await screenshot(page, "recommendations");
});

test("a plan's target accounts are saved and shown; a dry run shows each account's outcome", async ({ page }) => {
  await page.goto("/plans");
  await page.getByRole("button", { name: "Add plan" }).click();
  const dialog = page.getByRole("dialog", { name: "Add plan" });
  await dialog.getByRole("textbox", { name: "Plan name", exact: true }).fill("Weekly EC2");
  await pick(page, dialog.getByRole("textbox", { name: "Services", exact: true }), "ec2");
  await page.keyboard.press("Escape");
  await pick(page, dialog.getByRole("textbox", { name: "Target accounts", exact: true }), /prod-payments/);
  await page.getByRole("option", { name: /prod-analytics/ }).click();
  await page.keyboard.press("Escape");
  await dialog.getByRole("textbox", { name: "Schedule (cron, optional)", exact: true }).fill("0 6 * * 1");
  await expect(dialog.getByRole("checkbox", { name: /Dry run/ })).toBeChecked();
  await screenshot(page, "plan-editor");
  await dialog.getByRole("button", { name: "Save plan" }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole("row", { name: "Weekly EC2", exact: true });
  await expect(row).toContainText("2 accounts");
  await expect(row).toContainText("dry run");
  await expect(row).toContainText("0 6 * * 1");
  // The names behind "2 accounts" show on hover (and on keyboard focus).
  await row.getByText("2 accounts").hover();
  await expect(page.getByRole("tooltip")).toHaveText("prod-analytics, prod-payments");
  await page.mouse.move(0, 0);
  await expect(page.getByRole("tooltip")).toHaveCount(0);
  await screenshot(page, "plans");

  // Progress comes from the group's event stream, never from polling the executions list.
  const polled: string[] = [];
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.pathname === "/api/executions") polled.push(r.url());
  });
  await row.getByRole("button", { name: "Execute plan Weekly EC2" }).click();
  const execute = page.getByRole("dialog", { name: "Execute Weekly EC2" });
  const started = page.waitForResponse((r) => r.url().endsWith("/execute") && r.request().method() === "POST");
  const stream = page.waitForResponse((r) => /\/api\/executions\/[0-9a-f-]+\/events$/.test(new URL(r.url()).pathname));
  await execute.getByRole("button", { name: "Start dry run" }).click();
  const group = ((await (await started).json()) as { execution_group_id: string }).execution_group_id;
  const events = await stream;
  expect(new URL(events.url()).pathname).toBe(`/api/executions/${group}/events`);
  expect(events.headers()["content-type"]).toContain("text/event-stream");
  const outcome = execute.getByRole("table", { name: "Execution outcome per account" });
  await expect(outcome.getByRole("row")).toHaveCount(3);
  await expect(execute.getByRole("status")).toContainText("2 of 2 accounts finished", { timeout: 30_000 });
  await expect(execute.getByRole("status")).toContainText("group partial");
  // Each row's outcome arrived as an `execution` event of the stream.
  const payments = outcome.getByRole("row", { name: "prod-payments" });
  await expect(payments).toContainText("completed");
  await expect(payments).toContainText("dry run");
  await expect(payments).toContainText(/\d+ simulated/);
  await expect(payments).toHaveAttribute("data-arrived", "live");
  const analytics = outcome.getByRole("row", { name: "prod-analytics" });
  await expect(analytics).toContainText("failed");
  await expect(analytics).toContainText("InvalidClientTokenId");
  await expect(analytics).toHaveAttribute("data-arrived", "live");
  const body = await events.text();
  expect(body.match(/^event: execution$/gm)).toHaveLength(2);
  expect(body).toMatch(/^event: group$/m);
  expect(polled).toEqual([]);
  await screenshot(page, "plan-execution");
});

test("a target account of another provider gets the API's 400 in the form, and saving again makes no twin", async ({ page, request }) => {
  // The picker lists only the plan provider's accounts; a stale list is how a wrong one gets in.
  await page.route((url) => url.pathname === "/api/accounts", async (route) => {
    const url = new URL(route.request().url());
    const response = await route.fetch();
    if (url.searchParams.get("provider") !== "aws") return route.fulfill({ response });
    const body = (await response.json()) as { accounts: unknown[] };
    const azure = await (await route.fetch({ url: `${url.origin}/api/accounts/${seeded.azure.id}` })).json();
    await route.fulfill({ response, json: { ...body, accounts: [...body.accounts, azure] } });
  });
  await page.goto("/plans");
  await page.getByRole("button", { name: "Add plan" }).click();
  const dialog = page.getByRole("dialog", { name: "Add plan" });
  await dialog.getByRole("textbox", { name: "Plan name", exact: true }).fill("Mixed targets");
  await pick(page, dialog.getByRole("textbox", { name: "Services", exact: true }), "ec2");
  await page.keyboard.press("Escape");
  const targets = dialog.getByRole("textbox", { name: "Target accounts", exact: true });
  await pick(page, targets, /azure-shared/);
  await page.keyboard.press("Escape");
  await dialog.getByRole("button", { name: "Save plan" }).click();
  await expect(dialog.getByRole("alert")).toContainText("only aws accounts can be targeted");
  await screenshot(page, "plan-editor-wrong-provider");
  // Remove it from the keyboard (Backspace in the picker) and save: the plan the first
  // attempt created is updated, not created again.
  await targets.focus();
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Escape");
  await expect(targets).toHaveAttribute("placeholder", "All AWS accounts");
  await dialog.getByRole("button", { name: "Save plan" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("row", { name: "Mixed targets", exact: true })).toHaveCount(1);
  await expect(page.getByRole("row", { name: "Mixed targets", exact: true })).toContainText("All AWS accounts");
  const api = await seeder(request);
  const plans = await api.get<{ plans: { id: string; name: string }[] }>("/api/plans");
  const mine = plans.plans.filter((p) => p.name === "Mixed targets");
  expect(mine).toHaveLength(1);
  const deleted = await request.delete(`/api/plans/${mine[0]?.id}`, { headers: { Authorization: `Bearer ${api.token}` } });
  expect(deleted.status()).toBe(204);
});

test("the Plans account filter narrows to plans targeting the chosen accounts and survives a reload", async ({ page, request }) => {
  const api = await seeder(request);
  const azurePlan = await api.post<{ id: string }>("/api/plans", { name: "Azure VMs", services: { "azure:vm": {} } });
  const analytics = await api.post<{ id: string }>("/api/plans", { name: "Analytics RDS", services: { "aws:rds": {} } });
  await api.put(`/api/plans/${analytics.id}/accounts`, { account_ids: [seeded.awsB.id] });
  await page.goto("/plans");
  const table = page.getByRole("table", { name: "Plans" });
  const rowNames = () => table.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("aria-label")));
  await expect(table.getByRole("row", { name: "Azure VMs", exact: true })).toContainText("All Azure accounts");
  let options = await openAccountFilter(page);
  await expect(options.getByRole("option")).toHaveCount(3);
  await page.keyboard.press("Escape");

  await page.getByRole("textbox", { name: "Provider", exact: true }).click();
  await page.getByRole("option", { name: "AWS", exact: true }).click();
  await expect(table.getByRole("row", { name: "Azure VMs", exact: true })).toHaveCount(0);
  options = await openAccountFilter(page);
  await expect(options.getByRole("option")).toHaveCount(2);
  const one = page.waitForRequest((r) => {
    const url = new URL(r.url());
    return url.pathname === "/api/plans" && url.searchParams.get("account_ids") === seeded.awsA.id;
  });
  await options.getByRole("option", { name: /prod-payments/ }).click();
  await one;
  await expect(table.getByRole("row", { name: "Analytics RDS", exact: true })).toHaveCount(0);
  await expect(table.getByRole("row", { name: "Weekly EC2", exact: true })).toBeVisible();
  const both = page.waitForRequest((r) => {
    const url = new URL(r.url());
    const ids = (url.searchParams.get("account_ids") ?? "").split(",");
    return url.pathname === "/api/plans" && ids.length === 2 && ids.includes(seeded.awsA.id) && ids.includes(seeded.awsB.id);
  });
  await options.getByRole("option", { name: /prod-analytics/ }).click();
  await both;
  await page.keyboard.press("Escape");
  await expect(table.getByRole("row", { name: "Analytics RDS", exact: true })).toBeVisible();
  const narrowed = await rowNames();
  expect(narrowed).toContain("Weekly EC2");
  expect(narrowed).not.toContain("Azure VMs");

  await page.reload();
  const search = page.getByRole("search", { name: "Plan filters" });
  await expect(search.getByText("prod-payments", { exact: false })).toBeVisible();
  await expect(search.getByText("prod-analytics", { exact: false })).toBeVisible();
  await expect(table.getByRole("row", { name: "Analytics RDS", exact: true })).toBeVisible();
  expect(await rowNames()).toEqual(narrowed);
  await screenshot(page, "plans-filtered");

  // Azure: the AWS choices no longer fit and are dropped; the request names no account.
  const unfiltered = page.waitForRequest((r) => {
    const url = new URL(r.url());
    return url.pathname === "/api/plans" && !url.searchParams.has("account_ids");
  });
  await page.getByRole("textbox", { name: "Provider", exact: true }).click();
  await page.getByRole("option", { name: "Azure", exact: true }).click();
  await unfiltered;
  await expect(page).not.toHaveURL(/account=/);
  await expect.poll(rowNames).toEqual(["Azure VMs"]);
  for (const plan of [azurePlan, analytics]) {
    const response = await request.delete(`/api/plans/${plan.id}`, { headers: { Authorization: `Bearer ${api.token}` } });
    expect(response.status()).toBe(204);
  }
});

test("a real execution waits for approval: not by its trigger, approved by a second user", async ({ page, request, browser }) => {
  const api = await seeder(request);
  const group = await api.post<{ id: string }>("/api/groups", {
    name: "approvers",
    permissions: [
      { resource: "plans", action: "view" },
      { resource: "plans", action: "approve" },
      { resource: "accounts", action: "view" },
    ],
  });
  const approver = { email: "approver@example.com", password: "second pair of eyes" };
  await api.post("/api/users", { ...approver, role: "user", group_ids: [group.id] });
  const plan = await api.post<{ id: string }>("/api/plans", { name: "Real EC2", services: { "aws:ec2": {} }, dry_run: false });
  await api.put(`/api/plans/${plan.id}/accounts`, { account_ids: [seeded.awsA.id] });
  await api.post(`/api/plans/${plan.id}/execute`, {}, 202);

  await page.goto("/executions");
  const card = page.getByRole("region", { name: /Approval of group/ });
  await expect(card).toBeVisible({ timeout: 30_000 });
  await expect(card.getByRole("table", { name: "Lines to approve" })).toContainText("prod-payments");
  await expect(card.getByLabel("Approval totals")).toContainText("Upfront");
  await expect(card.getByRole("button", { name: "Approve" })).toBeDisabled();
  await screenshot(page, "executions-awaiting-approval");

  // Without plans:approve the card shows what waits, but no Approve / Reject.
  const viewers = await api.post<{ id: string }>("/api/groups", {
    name: "plan viewers",
    permissions: [
      { resource: "plans", action: "view" },
      { resource: "accounts", action: "view" },
    ],
  });
  const viewer = { email: "viewer@example.com", password: "only looking here" };
  await api.post("/api/users", { ...viewer, role: "user", group_ids: [viewers.id] });
  const viewContext = await browser.newContext();
  const third = await viewContext.newPage();
  await signIn(third, viewContext.request, viewer);
  await third.goto("/executions");
  const viewCard = third.getByRole("region", { name: /Approval of group/ });
  await expect(viewCard.getByRole("table", { name: "Lines to approve" })).toContainText("prod-payments");
  await expect(viewCard.getByRole("button", { name: "Approve" })).toHaveCount(0);
  await expect(viewCard.getByRole("button", { name: "Reject" })).toHaveCount(0);
  await viewContext.close();

  const context = await browser.newContext();
  const second = await context.newPage();
  await signIn(second, context.request, approver);
  await second.goto("/executions");
  const theirCard = second.getByRole("region", { name: /Approval of group/ });
  await expect(theirCard.getByRole("button", { name: "Approve" })).toBeEnabled();
  await theirCard.getByRole("button", { name: "Approve" }).click();
  await expect(theirCard).toBeHidden({ timeout: 30_000 });
  await context.close();

  // The simulator refuses m5.xlarge: two lines bought, one failed → partial, with Retry.
  const bought = page.getByRole("table", { name: "Executions" }).getByRole("row").filter({ hasText: "prod-payments" }).filter({ hasText: "partial" });
  await expect(bought).toHaveCount(1, { timeout: 30_000 });
  await bought.getByRole("button", { name: "Lines of prod-payments" }).click();
  const lines = page.getByRole("table", { name: "Purchase lines of prod-payments" });
  await expect(lines.getByRole("row").filter({ hasText: "purchased" })).toHaveCount(2);
  await expect(lines.getByRole("row").filter({ hasText: "m5.xlarge" })).toContainText("InsufficientInstanceCapacity");
  await screenshot(page, "executions-partial");
  const retried = page.waitForResponse((r) => r.url().endsWith("/retry") && r.request().method() === "POST");
  await bought.getByRole("button", { name: "Retry" }).click();
  const retry = await retried;
  expect(retry.status()).toBe(202);
  // Only the line that did not buy is re-attempted: still refused, so the execution stays partial.
  const reopened = ((await retry.json()) as { executions: { lines: { status: string }[] }[] }).executions;
  expect(reopened).toHaveLength(1);
  expect(reopened[0]?.lines.filter((l) => l.status === "purchased")).toHaveLength(2);
  await expect(bought).toHaveCount(1, { timeout: 30_000 });
});

test("screenshots of the read pages", async ({ page }) => {
  for (const [path, name, heading] of [
    ["/dashboard", "dashboard", "Dashboard"],
    ["/executions", "executions", "Executions"],
    ["/history", "history", "Purchase history"],
    ["/commitments", "commitments", "Commitments"],
  ] as const) {
    await page.goto(path);
    await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
    await page.waitForLoadState("networkidle");
    if (name === "dashboard") await expect(page.getByRole("region", { name: "Upcoming" })).toContainText("Weekly EC2 (0 6 * * 1) · dry run");
    await screenshot(page, name);
    await screenshot(page, `${name}-full-page`, true);
  }
});
