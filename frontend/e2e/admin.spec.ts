import { expect, test } from "@playwright/test";
import { ADMIN, apiToken, awsId, choose, pick, screenshot, seeder, signIn, uniqueName } from "./helpers";

test.beforeEach(async ({ page, request }) => {
  await signIn(page, request);
});

test("an API key is shown once, with a copy button", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.goto("/admin/api-keys");
  await page.getByLabel("Key name").fill("ci-deploy");
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog", { name: "Your new API key" });
  const key = await dialog.getByLabel("API key").inputValue();
  expect(key.length).toBeGreaterThan(20);
  await screenshot(page, "api-key-created");
  await dialog.getByRole("button", { name: "Copy key" }).click();
  await expect(dialog.getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  await dialog.getByRole("button", { name: "I have stored it" }).click();
  await expect(dialog).toBeHidden();
  const table = page.getByRole("table", { name: "API keys" });
  await expect(table).toContainText("ci-deploy");
  // Never again: not in the list, not after a reload.
  await expect(page.getByText(key)).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole("table", { name: "API keys" })).toContainText("ci-deploy");
  expect(await page.content()).not.toContain(key);
  // The key works for scripts.
  const response = await page.request.get("/api/auth/me", { headers: { "X-API-Key": key } });
  expect(response.status()).toBe(200);
  await screenshot(page, "api-keys");
});

test("groups: a permission constrained to accounts picked by name is stored by id", async ({ page, request }) => {
  const api = await seeder(request);
  const accountName = uniqueName("scoped");
  const account = await api.post<{ id: string }>("/api/accounts", { name: accountName, provider: "aws", external_id: awsId() });
  const groupName = uniqueName("readers");
  await page.goto("/admin/groups");
  await page.getByRole("button", { name: "Add group" }).click();
  const dialog = page.getByRole("dialog", { name: "Add group" });
  await dialog.getByLabel("Group name").fill(groupName);
  await dialog.getByRole("button", { name: "Add permission" }).click();
  await choose(page, "Action 1", "view");
  await pick(page, dialog.getByRole("textbox", { name: "Accounts 1" }), new RegExp(accountName));
  await page.keyboard.press("Escape");
  await screenshot(page, "group-editor");
  await dialog.getByRole("button", { name: "Save group" }).click();
  await expect(dialog).toBeHidden();
  const table = page.getByRole("table", { name: "Groups" });
  await expect(table).toContainText(`accounts:view (${accountName})`);
  const groups = await api.get<{ groups: { name: string; permissions: { constraints?: { accounts: string[] } }[] }[] }>("/api/groups");
  const saved = groups.groups.find((g) => g.name === groupName);
  expect(saved?.permissions[0]?.constraints?.accounts).toEqual([account.id]);
  await screenshot(page, "groups");
});

test("users: add a user in a group; audit log filters by actor", async ({ page, request }) => {
  const api = await seeder(request);
  const groupName = uniqueName("ops");
  await api.post("/api/groups", { name: groupName, permissions: [{ resource: "accounts", action: "view" }] });
  const email = `${uniqueName("user")}@example.com`;
  await page.goto("/admin/users");
  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog", { name: "Add user" });
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByLabel("Password").fill("a long enough password");
  await pick(page, dialog.getByRole("textbox", { name: "Groups" }), groupName);
  await page.keyboard.press("Escape");
  await dialog.getByRole("button", { name: "Save user" }).click();
  await expect(dialog).toBeHidden();
  const users = page.getByRole("table", { name: "Users" });
  await expect(users.getByRole("row").filter({ hasText: email })).toContainText(groupName);
  await screenshot(page, "users");

  await page.goto("/admin/audit");
  await page.getByLabel("Actor (email or user id)").fill(ADMIN.email);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/actor=admin%40example\.com/);
  const events = page.getByRole("table", { name: "Audit events" });
  await expect(events).toContainText("user");
  await expect(events).toContainText(ADMIN.email);
  await screenshot(page, "audit");
});

test("a 401 anywhere returns to login and back to the page afterwards", async ({ page, request }) => {
  await page.goto("/settings/accounts");
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  // The session ends elsewhere (logout from another tab revokes this token).
  const token = await page.evaluate(() => window.localStorage.getItem("cudly.token"));
  const revoked = await request.post("/api/auth/logout", { headers: { Authorization: `Bearer ${token}` } });
  expect(revoked.status()).toBe(204);
  await page.getByRole("tab", { name: "Service defaults" }).click();
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Fdefaults/);
  await page.getByRole("textbox", { name: "Email", exact: true }).fill(ADMIN.email);
  await page.getByRole("textbox", { name: "Password", exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings\/defaults$/);
  await expect(page.getByRole("table", { name: "AWS service defaults" })).toBeVisible();
  void apiToken;
});

test("deep links load directly and the layout works on a narrow window", async ({ page }) => {
  await page.goto("/admin/audit?actor=nobody%40example.com");
  await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
  await expect(page.getByLabel("Actor (email or user id)")).toHaveValue("nobody@example.com");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/settings/accounts");
  await page.getByRole("button", { name: "Toggle navigation" }).click();
  await page.getByRole("link", { name: "API keys" }).click();
  await expect(page.getByRole("heading", { name: "API keys" })).toBeVisible();
  await page.goto("/settings/accounts");
  await expect(page.getByRole("region", { name: "AWS accounts" })).toBeVisible();
  await screenshot(page, "narrow-settings-accounts");
});

test("the app runs under the strict Content-Security-Policy (no inline scripts)", async ({ page }) => {
  const policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  await page.route("**/*", async (route) => {
    if (route.request().resourceType() !== "document") return route.continue();
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": policy } });
  });
  await page.goto("/settings/accounts");
  await expect(page.getByRole("region", { name: "AWS accounts" })).toBeVisible();
  await page.goto("/dashboard");
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  expect(violations).toEqual([]);
});
