import { expect, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";

export const ADMIN = { email: "admin@example.com", password: "correct horse battery staple" };

export interface ServerState {
  aws_account: string;
  arn: string;
  access_key_id: string;
  secret_access_key: string;
}

/** What tests/e2e/serve.py wrote: moto's account id and a pair of access keys moto accepts. */
export function serverState(): ServerState {
  return JSON.parse(readFileSync(process.env.E2E_STATE ?? "", "utf8")) as ServerState;
}

export async function apiToken(request: APIRequestContext, user = ADMIN): Promise<string> {
  const response = await request.post("/api/auth/login", { data: user });
  expect(response.status(), await response.text()).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

/** A thin API client for seeding data the way any script would. */
export async function seeder(request: APIRequestContext) {
  const token = await apiToken(request);
  const headers = { Authorization: `Bearer ${token}` };
  return {
    token,
    async post<T = Record<string, unknown>>(path: string, data: unknown, status = 201): Promise<T> {
      const response = await request.post(path, { data, headers });
      expect(response.status(), await response.text()).toBe(status);
      return (status === 204 ? {} : await response.json()) as T;
    },
    async put<T = Record<string, unknown>>(path: string, data: unknown): Promise<T> {
      const response = await request.put(path, { data, headers });
      expect(response.status(), await response.text()).toBe(200);
      return (await response.json()) as T;
    },
    async get<T = Record<string, unknown>>(path: string): Promise<T> {
      const response = await request.get(path, { headers });
      expect(response.status(), await response.text()).toBe(200);
      return (await response.json()) as T;
    },
  };
}

/** Sign in through the page's own storage (the SPA keeps its token in localStorage). */
export async function signIn(page: Page, request: APIRequestContext, user = ADMIN): Promise<void> {
  const token = await apiToken(request, user);
  await page.goto("/login");
  await page.evaluate((value) => window.localStorage.setItem("cudly.token", value), token);
}

export function awsId(): string {
  let id = String(1 + Math.floor(Math.random() * 9));
  while (id.length < 12) id += String(Math.floor(Math.random() * 10));
  return id;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage });
}

/** Marks the document so a later check can prove no full page load happened in between. */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { __e2eMarker: boolean }).__e2eMarker = true;
  });
}

export async function expectSameDocument(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { __e2eMarker?: boolean }).__e2eMarker === true)).toBe(true);
}

/** Pick an option of a Mantine Select by its label. */
export async function choose(page: Page, label: string, option: string): Promise<void> {
  await page.getByRole("textbox", { name: label, exact: true }).click();
  await page.getByRole("option", { name: option, exact: true }).click();
}

/** Open a (multi-)select and choose an option. Its options may still be loading when the dialog
 *  appears: wait for the field to be enabled, and open it again until the option shows. */
export async function pick(page: Page, field: Locator, option: string | RegExp) {
  await expect(field).toBeEnabled();
  const choice = page.getByRole("option", { name: option, exact: typeof option === "string" });
  await expect(async () => {
    await field.click({ force: true });
    await expect(choice).toBeVisible({ timeout: 2_000 });
  }).toPass();
  await choice.click();
}
