import { expect, test } from "@playwright/test";
import { ADMIN, screenshot } from "./helpers";

test("first-run setup creates the admin, then sign out and sign in", async ({ page }) => {
  await page.goto("/settings/accounts");
  await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Faccounts/);
  await screenshot(page, "login");
  await page.getByRole("tab", { name: "First-run setup" }).click();
  await page.getByLabel("Admin email").fill(ADMIN.email);
  await page.getByLabel("Admin password").fill("short");
  await page.getByRole("button", { name: "Create administrator" }).click();
  // The API's field-level error shows under the field.
  await expect(page.getByLabel("Admin password")).toHaveAttribute("data-invalid", "true");
  await page.getByLabel("Admin password").fill(ADMIN.password);
  await screenshot(page, "first-run-setup");
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page).toHaveURL(/\/settings\/accounts$/);
  await expect(page.getByTestId("current-user")).toHaveText(ADMIN.email);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  // A second setup is refused (409): the page says so and offers sign-in instead.
  await page.getByRole("tab", { name: "First-run setup" }).click();
  await page.getByLabel("Admin email").fill("intruder@example.com");
  await page.getByLabel("Admin password").fill("another long password");
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page.getByRole("alert")).toContainText("an admin already exists");

  await page.getByRole("textbox", { name: "Email", exact: true }).fill(ADMIN.email);
  await page.getByRole("textbox", { name: "Password", exact: true }).fill("wrong password!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await page.getByRole("textbox", { name: "Password", exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("current-user")).toHaveText(ADMIN.email);
});
