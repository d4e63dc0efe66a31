import { describe, expect, it } from "vitest";
import { accountFields, createBody, credentialBody, credentialFields, fieldMessage, initialValues, updateBody } from "./accountForm";

describe("accountFields", () => {
  it("follows the AWS auth mode", () => {
    expect(accountFields("aws", "access_keys", true)).not.toContain("aws_role_arn");
    expect(accountFields("aws", "role_arn", true)).toEqual(expect.arrayContaining(["aws_role_arn", "aws_external_id"]));
    expect(accountFields("aws", "role_arn", true)).not.toContain("aws_bastion_id");
    expect(accountFields("aws", "bastion", true)).toEqual(expect.arrayContaining(["aws_role_arn", "aws_external_id", "aws_bastion_id"]));
    const wif = accountFields("aws", "workload_identity_federation", true);
    expect(wif).toContain("aws_role_arn");
    expect(wif).not.toContain("aws_external_id");
  });

  it("shows each provider's own fields only", () => {
    const azure = accountFields("azure", "client_secret", true);
    expect(azure).toEqual(expect.arrayContaining(["azure_tenant_id", "azure_client_id", "is_discovery_root"]));
    expect(azure.some((f) => f.startsWith("aws_") || f.startsWith("gcp_"))).toBe(false);
    const gcp = accountFields("gcp", "service_account_key", true);
    expect(gcp).toEqual(expect.arrayContaining(["gcp_client_email", "gcp_auth_mode"]));
    expect(gcp.some((f) => f.startsWith("aws_") || f.startsWith("azure_"))).toBe(false);
  });

  it("never offers the immutable external_id on edit", () => {
    expect(accountFields("aws", "access_keys", true)).toContain("external_id");
    expect(accountFields("aws", "access_keys", false)).not.toContain("external_id");
  });
});

describe("credentialFields", () => {
  it("maps every auth mode to its credential type", () => {
    expect(credentialFields("aws", "access_keys")?.type).toBe("aws_access_keys");
    expect(credentialFields("aws", "role_arn")).toBeNull();
    expect(credentialFields("aws", "bastion")).toBeNull();
    expect(credentialFields("aws", "workload_identity_federation")?.type).toBe("aws_wif");
    expect(credentialFields("azure", "client_secret")?.fields).toEqual(["client_secret"]);
    expect(credentialFields("azure", "workload_identity_federation")?.type).toBe("azure_wif");
    expect(credentialFields("gcp", "service_account_key")?.fields).toEqual(["service_account_json"]);
    expect(credentialFields("gcp", "workload_identity_federation")?.type).toBe("gcp_wif");
  });
});

describe("createBody", () => {
  it("sends visible fields, leaves blanks out and infers nothing the user did not type", () => {
    const values = { ...initialValues("aws"), name: "  prod  ", external_id: "123456789012", aws_role_arn: "arn:aws:iam::123456789012:role/X" };
    // access_keys mode: the role ARN typed earlier is hidden, so not sent.
    expect(createBody("aws", values)).toEqual({
      name: "prod",
      external_id: "123456789012",
      enabled: true,
      aws_auth_mode: "access_keys",
      aws_is_org_root: false,
      provider: "aws",
    });
  });

  it("adds inline credentials of the mode's type when typed", () => {
    const values = { ...initialValues("aws"), name: "a", external_id: "123456789012", access_key_id: " AKIA1 ", secret_access_key: " s3cret " };
    expect(createBody("aws", values).credentials).toEqual({ type: "aws_access_keys", access_key_id: "AKIA1", secret_access_key: " s3cret " });
  });

  it("sends role fields for role_arn", () => {
    const values = { ...initialValues("aws"), name: "a", external_id: "123456789012", aws_auth_mode: "role_arn", aws_role_arn: "arn:aws:iam::123456789012:role/X" };
    const body = createBody("aws", values);
    expect(body.aws_role_arn).toBe("arn:aws:iam::123456789012:role/X");
    expect(body.credentials).toBeUndefined();
  });
});

describe("updateBody", () => {
  it("never sends provider or external_id and clears emptied optional fields", () => {
    const values = { ...initialValues("azure"), name: "sub", external_id: "x", azure_tenant_id: "t", description: "" };
    const body = updateBody("azure", values) as Record<string, unknown>;
    expect(body).not.toHaveProperty("provider");
    expect(body).not.toHaveProperty("external_id");
    expect(body.description).toBeNull();
    expect(body.azure_tenant_id).toBe("t");
  });
});

describe("credentialBody", () => {
  it("is null when nothing was typed", () => {
    expect(credentialBody("azure", "client_secret", {})).toBeNull();
    expect(credentialBody("azure", "client_secret", { client_secret: "   " })).toBeNull();
  });
});

describe("fieldMessage", () => {
  it("finds a field's message by name, credentials prefix or path suffix", () => {
    const fields = { aws_role_arn: "bad arn", "credentials.secret_access_key": "required", "aws_access_keys.access_key_id": "too long" };
    expect(fieldMessage(fields, "aws_role_arn")).toBe("bad arn");
    expect(fieldMessage(fields, "secret_access_key")).toBe("required");
    expect(fieldMessage(fields, "access_key_id")).toBe("too long");
    expect(fieldMessage(fields, "name")).toBeUndefined();
  });
});
