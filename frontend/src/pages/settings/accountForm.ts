// What the Add/Edit account form shows and sends, as pure functions (unit-tested):
// the fields follow the provider and its auth mode.
import type { Account, Provider, Schemas } from "../../api/client";
import { awsAuthModeValues, azureAuthModeValues, gcpAuthModeValues } from "../../api/schema";

export type AccountCreate = Schemas["AccountCreate"];
export type AccountUpdate = Schemas["AccountUpdate"];

export type AccountField =
  | "name"
  | "external_id"
  | "description"
  | "contact_email"
  | "enabled"
  | "aws_auth_mode"
  | "aws_role_arn"
  | "aws_external_id"
  | "aws_bastion_id"
  | "aws_is_org_root"
  | "azure_tenant_id"
  | "azure_client_id"
  | "azure_auth_mode"
  | "gcp_client_email"
  | "gcp_auth_mode"
  | "is_discovery_root";

export type CredentialField =
  | "access_key_id"
  | "secret_access_key"
  | "web_identity_token_file"
  | "client_secret"
  | "federated_token_file"
  | "service_account_json"
  | "external_account_json";

export type CredentialType = "aws_access_keys" | "aws_wif" | "azure_client_secret" | "azure_wif" | "gcp_service_account" | "gcp_wif";

export const PROVIDER_LABEL: Record<Provider, string> = { aws: "AWS", azure: "Azure", gcp: "GCP" };

export const AUTH_MODES: Record<Provider, readonly string[]> = {
  aws: awsAuthModeValues,
  azure: azureAuthModeValues,
  gcp: gcpAuthModeValues,
};

export const AUTH_MODE_LABEL: Record<string, string> = {
  access_keys: "Access keys",
  role_arn: "Assume role",
  bastion: "Bastion (via another account)",
  workload_identity_federation: "Workload identity federation",
  client_secret: "Client secret",
  service_account_key: "Service account key",
};

export const EXTERNAL_ID_LABEL: Record<Provider, string> = {
  aws: "AWS account ID",
  azure: "Subscription ID",
  gcp: "Project ID",
};

export const EXTERNAL_ID_HINT: Record<Provider, string> = {
  aws: "12 digits",
  azure: "Subscription UUID, lower-case",
  gcp: "6–30 characters: lower-case letters, digits, hyphens",
};

export const FIELD_LABEL: Record<AccountField | CredentialField, string> = {
  name: "Name",
  external_id: "External ID",
  description: "Description",
  contact_email: "Contact email",
  enabled: "Enabled",
  aws_auth_mode: "Auth mode",
  aws_role_arn: "Role ARN",
  aws_external_id: "STS external ID",
  aws_bastion_id: "Bastion account",
  aws_is_org_root: "Organisation root (may discover member accounts)",
  azure_tenant_id: "Tenant ID",
  azure_client_id: "Client ID",
  azure_auth_mode: "Auth mode",
  gcp_client_email: "Service account email",
  gcp_auth_mode: "Auth mode",
  is_discovery_root: "Discovery root (may discover accounts below it)",
  access_key_id: "Access key ID",
  secret_access_key: "Secret access key",
  web_identity_token_file: "Web identity token file (path on the server)",
  client_secret: "Client secret",
  federated_token_file: "Federated token file (path on the server)",
  service_account_json: "Service account key JSON",
  external_account_json: "External account JSON",
};

export const SECRET_FIELDS: readonly CredentialField[] = [
  "secret_access_key",
  "client_secret",
  "service_account_json",
  "external_account_json",
];

export function defaultAuthMode(provider: Provider): string {
  return AUTH_MODES[provider][0] ?? "";
}

export function authModeField(provider: Provider): "aws_auth_mode" | "azure_auth_mode" | "gcp_auth_mode" {
  return `${provider}_auth_mode` as const;
}

/** The account fields shown for a provider and auth mode (create adds external_id). */
export function accountFields(provider: Provider, mode: string, creating: boolean): AccountField[] {
  const fields: AccountField[] = ["name"];
  if (creating) fields.push("external_id");
  fields.push("description", "contact_email", "enabled");
  if (provider === "aws") {
    fields.push("aws_auth_mode");
    if (mode === "role_arn" || mode === "bastion" || mode === "workload_identity_federation") fields.push("aws_role_arn");
    if (mode === "role_arn" || mode === "bastion") fields.push("aws_external_id");
    if (mode === "bastion") fields.push("aws_bastion_id");
    fields.push("aws_is_org_root");
  } else if (provider === "azure") {
    fields.push("azure_tenant_id", "azure_client_id", "azure_auth_mode", "is_discovery_root");
  } else {
    fields.push("gcp_client_email", "gcp_auth_mode", "is_discovery_root");
  }
  return fields;
}

/** The credential type and fields an auth mode stores; null when it stores none (role_arn, bastion). */
export function credentialFields(provider: Provider, mode: string): { type: CredentialType; fields: CredentialField[] } | null {
  if (provider === "aws") {
    if (mode === "access_keys") return { type: "aws_access_keys", fields: ["access_key_id", "secret_access_key"] };
    if (mode === "workload_identity_federation") return { type: "aws_wif", fields: ["web_identity_token_file"] };
    return null;
  }
  if (provider === "azure") {
    if (mode === "client_secret") return { type: "azure_client_secret", fields: ["client_secret"] };
    return { type: "azure_wif", fields: ["federated_token_file"] };
  }
  if (mode === "service_account_key") return { type: "gcp_service_account", fields: ["service_account_json"] };
  return { type: "gcp_wif", fields: ["external_account_json"] };
}

export type FormValues = Record<AccountField, string | boolean> & Partial<Record<CredentialField, string>>;

export function initialValues(provider: Provider, account?: Account): FormValues {
  const text = (value: string | null | undefined) => value ?? "";
  return {
    name: text(account?.name),
    external_id: text(account?.external_id),
    description: text(account?.description),
    contact_email: text(account?.contact_email),
    enabled: account?.enabled ?? true,
    aws_auth_mode: account?.aws_auth_mode ?? (provider === "aws" ? defaultAuthMode("aws") : ""),
    aws_role_arn: text(account?.aws_role_arn),
    aws_external_id: text(account?.aws_external_id),
    aws_bastion_id: text(account?.aws_bastion_id),
    aws_is_org_root: account?.aws_is_org_root ?? false,
    azure_tenant_id: text(account?.azure_tenant_id),
    azure_client_id: text(account?.azure_client_id),
    azure_auth_mode: account?.azure_auth_mode ?? (provider === "azure" ? defaultAuthMode("azure") : ""),
    gcp_client_email: text(account?.gcp_client_email),
    gcp_auth_mode: account?.gcp_auth_mode ?? (provider === "gcp" ? defaultAuthMode("gcp") : ""),
    is_discovery_root: account?.is_discovery_root ?? false,
  };
}

function pick(values: FormValues, fields: AccountField[], creating: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field];
    if (typeof value === "boolean") body[field] = value;
    else if (value.trim() !== "") body[field] = value.trim();
    else if (!creating && field !== "name") body[field] = null; // clearing an optional field
  }
  return body;
}

/** The POST /api/accounts body: visible fields only, blanks left out, inline credentials when typed. */
export function createBody(provider: Provider, values: FormValues): AccountCreate {
  const mode = String(values[authModeField(provider)]);
  const body = pick(values, accountFields(provider, mode, true), true);
  const credentials = credentialBody(provider, mode, values);
  return { ...body, provider, ...(credentials ? { credentials } : {}) } as AccountCreate;
}

/** The PUT /api/accounts/{id} body: metadata only (provider and external_id are immutable). */
export function updateBody(provider: Provider, values: FormValues): AccountUpdate {
  const mode = String(values[authModeField(provider)]);
  return pick(values, accountFields(provider, mode, false), false) as AccountUpdate;
}

/** The credentials body for the auth mode, or null when nothing was typed. */
export function credentialBody(provider: Provider, mode: string, values: Partial<Record<CredentialField, string>>): Record<string, string> | null {
  const spec = credentialFields(provider, mode);
  if (!spec) return null;
  const body: Record<string, string> = {};
  for (const field of spec.fields) {
    const value = values[field] ?? "";
    if (value.trim() !== "") body[field] = SECRET_FIELDS.includes(field) ? value : value.trim();
  }
  if (Object.keys(body).length === 0) return null;
  return { type: spec.type, ...body };
}

/** The API's message for a form field: exact name, `credentials.<name>`, or any path ending in it. */
export function fieldMessage(fields: Record<string, string>, name: string): string | undefined {
  if (fields[name]) return fields[name];
  if (fields[`credentials.${name}`]) return fields[`credentials.${name}`];
  const match = Object.keys(fields).find((key) => key.endsWith(`.${name}`));
  return match ? fields[match] : undefined;
}
