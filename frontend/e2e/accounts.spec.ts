import { expect, test, type Page } from "@playwright/test";
import { awsId, choose, expectSameDocument, markDocument, screenshot, seeder, serverState, signIn, uniqueName } from "./helpers";

function section(page: Page, provider: string) {
  return page.getByRole("region", { name: `${provider} accounts` });
}

function row(page: Page, name: string) {
  return page.getByRole("row", { name, exact: true });
}

test.beforeEach(async ({ page, request }) => {
  await signIn(page, request);
});

test("add an AWS role_arn account: field errors from the API, then the row appears without a reload", async ({ page }) => {
  const id = awsId();
  const name = uniqueName("role-account");
  await page.goto("/settings/accounts");
  await markDocument(page);
  await section(page, "AWS").getByRole("button", { name: "Add AWS account" }).click();
  const dialog = page.getByRole("dialog", { name: "Add AWS account" });
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(name);
  await dialog.getByLabel("AWS account ID").fill(id);
  // Fields follow the auth mode: no Role ARN for access keys, Role ARN for assume-role.
  await expect(dialog.getByLabel("Role ARN")).toHaveCount(0);
  await expect(dialog.getByLabel("Access key ID")).toBeVisible();
  await choose(page, "Auth mode", "Assume role");
  await expect(dialog.getByLabel("Access key ID")).toHaveCount(0);
  // An ARN of another account: the API's 400 names the field, shown under it.
  await dialog.getByLabel("Role ARN").fill("arn:aws:iam::999999999999:role/CUDly");
  await dialog.getByRole("button", { name: "Add account" }).click();
  await expect(dialog.getByLabel("Role ARN")).toHaveAttribute("aria-invalid", "true");
  await expect(dialog.getByLabel("Role ARN")).toHaveAccessibleDescription(/.+/);
  await screenshot(page, "settings-add-account-error");
  await dialog.getByLabel("Role ARN").fill(`arn:aws:iam::${id}:role/CUDly`);
  await dialog.getByLabel("STS external ID").fill("ext-e2e-1");
  await dialog.getByRole("button", { name: "Add account" }).click();
  await expect(dialog).toBeHidden();
  const added = row(page, name);
  await expect(added).toBeVisible();
  await expect(added).toContainText(id);
  await expect(added).toContainText("Assume role");
  await expect(added).toContainText("Credentials set"); // role_arn uses the server's own identity
  await expectSameDocument(page);
});

test("add an access-keys account with credentials; Test succeeds for good keys and fails for bad ones in place", async ({ page, request }) => {
  const state = serverState();
  const good = uniqueName("keys-good");
  const bad = uniqueName("keys-bad");
  await page.goto("/settings/accounts");
  await markDocument(page);

  await section(page, "AWS").getByRole("button", { name: "Add AWS account" }).click();
  let dialog = page.getByRole("dialog", { name: "Add AWS account" });
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(good);
  await dialog.getByLabel("AWS account ID").fill(state.aws_account);
  await dialog.getByLabel("Access key ID").fill(state.access_key_id);
  await dialog.getByLabel("Secret access key").fill(state.secret_access_key);
  await dialog.getByRole("button", { name: "Add account" }).click();
  await expect(dialog).toBeHidden();
  await expect(row(page, good)).toContainText("Credentials set");

  // A second account without credentials, then set (wrong) ones through the Credentials dialog.
  await section(page, "AWS").getByRole("button", { name: "Add AWS account" }).click();
  dialog = page.getByRole("dialog", { name: "Add AWS account" });
  await dialog.getByRole("textbox", { name: "Name", exact: true }).fill(bad);
  await dialog.getByLabel("AWS account ID").fill(awsId());
  await dialog.getByRole("button", { name: "Add account" }).click();
  await expect(dialog).toBeHidden();
  await expect(row(page, bad)).toContainText("No credentials");
  await row(page, bad).getByRole("button", { name: `Credentials of ${bad}` }).click();
  dialog = page.getByRole("dialog", { name: `Credentials of ${bad}` });
  await dialog.getByLabel("Access key ID").fill("FAKE-E2E-UNKNOWN-KEY");
  await dialog.getByLabel("Secret access key").fill("not-the-secret-not-the-secret-000000000");
  await dialog.getByRole("button", { name: "Save credentials" }).click();
  await expect(dialog).toBeHidden();
  await expect(row(page, bad)).toContainText("Credentials set");

  await row(page, good).getByRole("button", { name: `Test ${good}` }).click();
  await row(page, bad).getByRole("button", { name: `Test ${bad}` }).click();
  const goodResult = page.getByRole("status", { name: `Test result for ${good}` });
  const badResult = page.getByRole("status", { name: `Test result for ${bad}` });
  await expect(goodResult).toContainText("Test succeeded");
  await expect(goodResult).toContainText(state.arn);
  await expect(badResult).toContainText("Test failed");
  await expect(badResult).toContainText("InvalidClientTokenId");
  await expect(page).toHaveURL(/\/settings\/accounts$/);
  await expectSameDocument(page);
  await screenshot(page, "settings-accounts-test-results");
  void request;
});

test("Overrides marks override and global values; edit and reset to global", async ({ page, request }) => {
  const api = await seeder(request);
  const name = uniqueName("overrides");
  const account = await api.post<{ id: string }>("/api/accounts", { name, provider: "aws", external_id: awsId() });
  await api.put(`/api/accounts/${account.id}/service-overrides/aws/rds`, { term: 1, coverage: 50 });
  await page.goto("/settings/accounts");
  await row(page, name).getByRole("button", { name: `Overrides of ${name}` }).click();
  const table = page.getByRole("table", { name: `Service overrides of ${name}` });
  const rds = table.getByRole("row").filter({ hasText: /^rds/ });
  await expect(rds).toContainText("1 yr");
  await expect(rds.getByText("override", { exact: true })).toHaveCount(2);
  await expect(rds.getByText("global", { exact: true })).toHaveCount(2);
  const ec2 = table.getByRole("row").filter({ hasText: /^ec2/ });
  await expect(ec2.getByText("override", { exact: true })).toHaveCount(0);
  await screenshot(page, "settings-overrides");

  // Edit ec2: payment becomes an override.
  await table.getByRole("button", { name: "Edit override ec2" }).click();
  await choose(page, "Payment", "all-upfront");
  await page.getByRole("button", { name: "Save override" }).click();
  await expect(ec2).toContainText("all-upfront");
  await expect(ec2.getByText("override", { exact: true })).toHaveCount(1);

  // Reset rds: every value back to global.
  await table.getByRole("button", { name: "Reset rds to global" }).click();
  await expect(rds.getByText("override", { exact: true })).toHaveCount(0);
  await expect(rds).toContainText("3 yr");
  await expect(table.getByRole("button", { name: "Reset rds to global" })).toHaveCount(0);
});

test("deleting a bastion that others use shows the API's 409 and the dependants", async ({ page, request }) => {
  const api = await seeder(request);
  const bastionId = awsId();
  const bastionName = uniqueName("bastion");
  const memberName = uniqueName("member");
  const bastion = await api.post<{ id: string }>("/api/accounts", { name: bastionName, provider: "aws", external_id: bastionId });
  const memberId = awsId();
  await api.post("/api/accounts", {
    name: memberName,
    provider: "aws",
    external_id: memberId,
    aws_auth_mode: "bastion",
    aws_bastion_id: bastion.id,
    aws_role_arn: `arn:aws:iam::${memberId}:role/CUDly`,
  });
  await page.goto("/settings/accounts");
  await row(page, bastionName).getByRole("button", { name: `Delete ${bastionName}` }).click();
  const dialog = page.getByRole("dialog", { name: `Delete ${bastionName}?` });
  await dialog.getByRole("button", { name: "Delete account" }).click();
  const alert = dialog.getByRole("alert");
  await expect(alert).toContainText("Cannot delete");
  await expect(alert).toContainText(`Bastion of: ${memberName}`);
  await screenshot(page, "settings-delete-conflict");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(row(page, bastionName)).toBeVisible();

  // The member itself deletes fine, with confirmation.
  await row(page, memberName).getByRole("button", { name: `Delete ${memberName}` }).click();
  await page.getByRole("dialog", { name: `Delete ${memberName}?` }).getByRole("button", { name: "Delete account" }).click();
  await expect(row(page, memberName)).toHaveCount(0);
});

test("an account name with HTML renders as text", async ({ page, request }) => {
  const api = await seeder(request);
  const name = "<img src=x onerror=alert(1)>";
  await api.post("/api/accounts", { name, provider: "aws", external_id: awsId() });
  let dialogs = 0;
  page.on("dialog", (dialog) => {
    dialogs += 1;
    void dialog.dismiss();
  });
  await page.goto("/settings/accounts");
  await expect(page.getByText(name, { exact: true })).toBeVisible();
  await expect(page.locator("img[src=x]")).toHaveCount(0);
  expect(dialogs).toBe(0);
  await screenshot(page, "settings-accounts");
});

test("service defaults editor saves a global default", async ({ page }) => {
  await page.goto("/settings/defaults");
  const table = page.getByRole("table", { name: "GCP service defaults" });
  await table.getByRole("button", { name: "Edit default gcp:cloudsql" }).click();
  await page.getByLabel("Coverage %").fill("65");
  await page.getByRole("button", { name: "Save default" }).click();
  await expect(table.getByRole("row").filter({ hasText: /^cloudsql/ })).toContainText("65%");
  await screenshot(page, "settings-service-defaults");
});
