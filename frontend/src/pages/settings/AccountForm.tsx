import { Alert, Button, Checkbox, Group, PasswordInput, Select, SimpleGrid, Stack, Text, TextInput, Textarea } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, type Account, type Provider } from "../../api/client";
import { ApiError, errorMessage, unmatchedFieldErrors, unwrap } from "../../api/errors";
import {
  AUTH_MODES,
  AUTH_MODE_LABEL,
  EXTERNAL_ID_HINT,
  EXTERNAL_ID_LABEL,
  FIELD_LABEL,
  SECRET_FIELDS,
  accountFields,
  authModeField,
  createBody,
  credentialFields,
  fieldMessage,
  initialValues,
  updateBody,
  type AccountField,
  type CredentialField,
  type FormValues,
} from "./accountForm";

interface Props {
  provider: Provider;
  account?: Account;
  /** AWS accounts that may serve as a bastion. */
  bastions: Account[];
  onDone(account: Account): void;
  onCancel(): void;
}

const BOOLEAN_FIELDS: readonly AccountField[] = ["enabled", "aws_is_org_root", "is_discovery_root"];

export function AccountForm({ provider, account, bastions, onDone, onCancel }: Props) {
  const creating = account === undefined;
  const queryClient = useQueryClient();
  const [values, setValues] = useState<FormValues>(() => initialValues(provider, account));
  const modeField = authModeField(provider);
  const mode = String(values[modeField]);
  const fields = accountFields(provider, mode, creating);
  const credentials = creating ? credentialFields(provider, mode) : null;

  const save = useMutation({
    mutationFn: async () => {
      if (creating) return unwrap(api.POST("/api/accounts", { body: createBody(provider, values) }));
      return unwrap(
        api.PUT("/api/accounts/{account_id}", { params: { path: { account_id: account.id } }, body: updateBody(provider, values) }),
      );
    },
    onSuccess: (saved) => {
      // The new row shows at once: write it into the cached list, then refetch in the background.
      queryClient.setQueryData<{ accounts: Account[] }>(["accounts"], (old) => {
        if (!old) return old;
        const others = old.accounts.filter((a) => a.id !== saved.id);
        return { accounts: [...others, saved].sort((a, b) => a.name.localeCompare(b.name)) };
      });
      void queryClient.invalidateQueries({ queryKey: ["accounts"] });
      onDone(saved);
    },
  });

  const apiFields = save.error instanceof ApiError ? save.error.fields : {};
  const shown: string[] = [...fields, ...(credentials?.fields ?? []), ...(credentials?.fields ?? []).map((f) => `credentials.${f}`)];
  const unmatched = save.error instanceof ApiError ? unmatchedFieldErrors(save.error, shown) : [];

  const set = (field: AccountField | CredentialField, value: string | boolean) => setValues((old) => ({ ...old, [field]: value }));
  const text = (field: AccountField) => String(values[field]);
  const error = (field: string) => fieldMessage(apiFields, field);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };

  const renderField = (field: AccountField) => {
    if (BOOLEAN_FIELDS.includes(field)) return null;
    if (field === modeField) {
      return (
        <Select
          key={field}
          label={FIELD_LABEL[field]}
          data={AUTH_MODES[provider].map((value) => ({ value, label: AUTH_MODE_LABEL[value] ?? value }))}
          value={mode}
          onChange={(value) => value && set(field, value)}
          allowDeselect={false}
          error={error(field)}
        />
      );
    }
    if (field === "aws_bastion_id") {
      return (
        <Select
          key={field}
          label={FIELD_LABEL[field]}
          placeholder="Choose the account whose credentials assume into this one"
          data={bastions.filter((b) => b.id !== account?.id).map((b) => ({ value: b.id, label: `${b.name} (${b.external_id})` }))}
          value={text(field) || null}
          onChange={(value) => set(field, value ?? "")}
          searchable
          required
          nothingFoundMessage="No AWS account that can be a bastion"
          error={error(field)}
        />
      );
    }
    if (field === "description") {
      return <Textarea key={field} label={FIELD_LABEL[field]} value={text(field)} onChange={(e) => set(field, e.currentTarget.value)} autosize minRows={1} error={error(field)} />;
    }
    const label = field === "external_id" ? EXTERNAL_ID_LABEL[provider] : FIELD_LABEL[field];
    return (
      <TextInput
        key={field}
        label={label}
        description={field === "external_id" ? EXTERNAL_ID_HINT[provider] : undefined}
        required={field === "name" || field === "external_id" || field === "azure_tenant_id" || field === "aws_role_arn"}
        value={text(field)}
        onChange={(e) => set(field, e.currentTarget.value)}
        error={error(field)}
      />
    );
  };

  return (
    <form onSubmit={submit} aria-label={creating ? "Add account" : "Edit account"}>
      <Stack gap="sm">
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm" verticalSpacing="xs">
          {fields.map(renderField)}
        </SimpleGrid>
        <Group gap="lg">
          {fields
            .filter((f) => BOOLEAN_FIELDS.includes(f))
            .map((field) => (
              <Checkbox key={field} label={FIELD_LABEL[field]} checked={Boolean(values[field])} onChange={(e) => set(field, e.currentTarget.checked)} error={error(field)} />
            ))}
        </Group>
        {credentials && (
          <Stack gap="xs">
            <Text fw={600} size="sm">
              Credentials (optional, stored encrypted)
            </Text>
            {credentials.fields.map((field) =>
              field.endsWith("_json") ? (
                <Textarea key={field} label={FIELD_LABEL[field]} value={values[field] ?? ""} onChange={(e) => set(field, e.currentTarget.value)} minRows={3} autosize error={error(field)} />
              ) : SECRET_FIELDS.includes(field) ? (
                <PasswordInput key={field} label={FIELD_LABEL[field]} autoComplete="off" value={values[field] ?? ""} onChange={(e) => set(field, e.currentTarget.value)} error={error(field)} />
              ) : (
                <TextInput key={field} label={FIELD_LABEL[field]} autoComplete="off" value={values[field] ?? ""} onChange={(e) => set(field, e.currentTarget.value)} error={error(field)} />
              ),
            )}
          </Stack>
        )}
        {save.error && (
          <Alert color="red" role="alert" title="Not saved">
            {errorMessage(save.error)}
            {unmatched.map((line) => (
              <div key={line}>{line}</div>
            ))}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            {creating ? "Add account" : "Save"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
