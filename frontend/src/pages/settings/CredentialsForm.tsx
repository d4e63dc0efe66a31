import { Alert, Button, Group, PasswordInput, Stack, Text, TextInput, Textarea } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, type Account } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { FIELD_LABEL, SECRET_FIELDS, authModeField, credentialBody, credentialFields, fieldMessage, type CredentialField } from "./accountForm";

export function CredentialsForm({ account, onDone }: { account: Account; onDone(): void }) {
  const queryClient = useQueryClient();
  const mode = String(account[authModeField(account.provider)] ?? "");
  const spec = credentialFields(account.provider, mode);
  const [values, setValues] = useState<Partial<Record<CredentialField, string>>>({});

  const save = useMutation({
    mutationFn: async () => {
      const body = credentialBody(account.provider, mode, values);
      if (!body) throw new Error("Fill in the credentials first.");
      await unwrap(
        api.POST("/api/accounts/{account_id}/credentials", {
          params: { path: { account_id: account.id } },
          // The body's shape is chosen by `type`, built from the account's auth mode.
          body: body as never,
        }),
      );
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["accounts"] });
      onDone();
    },
  });

  if (!spec) {
    return (
      <Stack>
        <Text>
          {mode === "role_arn"
            ? "This account uses the CUDly server's own AWS identity to assume its role: it stores no credentials."
            : "This account assumes its role through its bastion account: set the bastion's credentials instead."}
        </Text>
        <Group justify="flex-end">
          <Button onClick={onDone}>Close</Button>
        </Group>
      </Stack>
    );
  }
  const apiFields = save.error instanceof ApiError ? save.error.fields : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const set = (field: CredentialField, value: string) => setValues((old) => ({ ...old, [field]: value }));

  return (
    <form onSubmit={submit} aria-label="Credentials">
      <Stack gap="sm">
        <Text size="sm" c="dimmed">
          Saving replaces the stored credentials. They are encrypted and never shown again.
        </Text>
        {spec.fields.map((field) =>
          field.endsWith("_json") ? (
            <Textarea key={field} label={FIELD_LABEL[field]} required value={values[field] ?? ""} onChange={(e) => set(field, e.currentTarget.value)} minRows={4} autosize error={fieldMessage(apiFields, field)} />
          ) : SECRET_FIELDS.includes(field) ? (
            <PasswordInput key={field} label={FIELD_LABEL[field]} required autoComplete="off" value={values[field] ?? ""} onChange={(e) => set(field, e.currentTarget.value)} error={fieldMessage(apiFields, field)} />
          ) : (
            <TextInput key={field} label={FIELD_LABEL[field]} required autoComplete="off" value={values[field] ?? ""} onChange={(e) => set(field, e.currentTarget.value)} error={fieldMessage(apiFields, field)} />
          ),
        )}
        {save.error && (
          <Alert color="red" role="alert">
            {errorMessage(save.error)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            Save credentials
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
