import { Alert, Badge, Button, Code, CopyButton, Group, Modal, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../../api/client";
import { ApiError, unwrap } from "../../api/errors";
import { Empty, ErrorState, Loading } from "../../components/States";

type Created = Schemas["ApiKeyCreated"];

const when = (value: string | null) => (value ? new Date(value).toLocaleString() : "—");

/** `<input type="datetime-local">` gives local time without a zone; the API wants an aware instant. */
export function localToIso(value: string): string | null {
  if (!value.trim()) return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

export function ApiKeysPage() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ["api-keys"], queryFn: () => unwrap(api.GET("/api/api-keys")) });
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [created, setCreated] = useState<Created | null>(null);
  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/api/api-keys", { body: { name: name.trim(), expires_at: localToIso(expires) } })),
    onSuccess: (key) => {
      setCreated(key);
      setName("");
      setExpires("");
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE("/api/api-keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  const fields = create.error instanceof ApiError ? create.error.fields : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };

  return (
    <Stack>
      <Title order={2}>API keys</Title>
      <Text size="sm" c="dimmed">
        Keys for scripts and CI. A key acts with your permissions. Send it as <Code>Authorization: Bearer …</Code> or <Code>X-API-Key</Code>.
      </Text>
      <form onSubmit={submit} aria-label="Create API key">
        <Group align="flex-end">
          <TextInput label="Key name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={fields.name} />
          <TextInput label="Expires (optional)" type="datetime-local" value={expires} onChange={(e) => setExpires(e.currentTarget.value)} error={fields.expires_at} />
          <Button type="submit" loading={create.isPending}>
            Create key
          </Button>
        </Group>
      </form>
      {create.error && !Object.keys(fields).length && <ErrorState error={create.error} title="Not created" />}
      {keys.isPending ? (
        <Loading label="Loading API keys" />
      ) : keys.error ? (
        <ErrorState error={keys.error} />
      ) : keys.data.api_keys.length === 0 ? (
        <Empty>No API keys yet.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={700}>
          <Table aria-label="API keys" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Prefix</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.data.api_keys.map((key) => (
                <Table.Tr key={key.id}>
                  <Table.Td>{key.name}</Table.Td>
                  <Table.Td>
                    <Code>{key.prefix}…</Code>
                  </Table.Td>
                  <Table.Td>{when(key.created_at)}</Table.Td>
                  <Table.Td>{when(key.expires_at)}</Table.Td>
                  <Table.Td>{when(key.last_used_at)}</Table.Td>
                  <Table.Td>{key.revoked_at ? <Badge color="gray">revoked</Badge> : <Badge color="green">active</Badge>}</Table.Td>
                  <Table.Td>
                    {!key.revoked_at && (
                      <Button size="compact-xs" color="red" variant="light" loading={revoke.isPending && revoke.variables === key.id} onClick={() => revoke.mutate(key.id)} aria-label={`Revoke ${key.name}`}>
                        Revoke
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {revoke.error && <ErrorState error={revoke.error} title="Not revoked" />}
      <Modal opened={created !== null} onClose={() => setCreated(null)} title="Your new API key" size="lg">
        {created && (
          <Stack>
            <Alert color="yellow" title="Shown once">
              Copy this key now. CUDly stores only a hash: it cannot show it again.
            </Alert>
            <TextInput label="API key" readOnly value={created.key} styles={{ input: { fontFamily: "monospace" } }} onFocus={(e) => e.currentTarget.select()} />
            <Group justify="flex-end">
              <CopyButton value={created.key}>
                {({ copied, copy }) => (
                  <Button color={copied ? "teal" : "blue"} onClick={copy}>
                    {copied ? "Copied" : "Copy key"}
                  </Button>
                )}
              </CopyButton>
              <Button variant="default" onClick={() => setCreated(null)}>
                I have stored it
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}
