import { Alert, Badge, Button, Card, Group, List, Modal, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api, type Account, type Provider, type Schemas } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { can, useAuth } from "../../auth/AuthContext";
import { Empty } from "../../components/States";
import { AccountForm } from "./AccountForm";
import { CredentialsForm } from "./CredentialsForm";
import { OverridesPanel } from "./OverridesPanel";
import { AUTH_MODE_LABEL, PROVIDER_LABEL, authModeField } from "./accountForm";

type Conflict = Schemas["AccountDeleteConflict"];
type Discovered = Schemas["DiscoverOut"];

function formatTime(value: string): string {
  return new Date(value).toLocaleString();
}

export function CollectionStatus({ account }: { account: Account }) {
  if (account.last_collection_error) {
    return (
      <Tooltip label={account.last_collection_error} multiline w={320}>
        <Badge color="red" variant="light">
          Collection failed
        </Badge>
      </Tooltip>
    );
  }
  if (account.last_collected_at) {
    return (
      <Text size="xs" c="dimmed">
        Collected {formatTime(account.last_collected_at)}
      </Text>
    );
  }
  return (
    <Text size="xs" c="dimmed">
      Never collected
    </Text>
  );
}

export function AccountsSection({ provider, accounts }: { provider: Provider; accounts: Account[] }) {
  const { me } = useAuth();
  const [adding, setAdding] = useState(false);
  const all = accounts.filter((a) => a.provider === provider);
  const bastions = accounts.filter((a) => a.provider === "aws" && a.aws_auth_mode !== "bastion");
  const label = PROVIDER_LABEL[provider];

  return (
    <Card withBorder padding="md" component="section" aria-labelledby={`accounts-${provider}`}>
      <Group justify="space-between" mb="sm">
        <Title order={3} id={`accounts-${provider}`}>
          {label} accounts
        </Title>
        {can(me, "accounts", "create") && (
          <Button size="xs" onClick={() => setAdding(true)} aria-label={`Add ${label} account`}>
            Add account
          </Button>
        )}
      </Group>
      {all.length === 0 ? (
        <Empty>No {label} accounts yet.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label={`${label} accounts`} verticalSpacing="xs" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>External ID</Table.Th>
                <Table.Th>Auth mode</Table.Th>
                <Table.Th>Credentials</Table.Th>
                <Table.Th>Last collection</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {all.map((account) => (
                <AccountRow key={account.id} account={account} bastions={bastions} />
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={adding} onClose={() => setAdding(false)} title={`Add ${label} account`} size="lg">
        {adding && <AccountForm provider={provider} bastions={bastions} onDone={() => setAdding(false)} onCancel={() => setAdding(false)} />}
      </Modal>
    </Card>
  );
}

type Dialog = "edit" | "credentials" | "delete" | "discover" | null;

function AccountRow({ account, bastions }: { account: Account; bastions: Account[] }) {
  const { me } = useAuth();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [showOverrides, setShowOverrides] = useState(false);
  const mode = account[authModeField(account.provider)];
  const test = useMutation({
    mutationFn: () => unwrap(api.POST("/api/accounts/{account_id}/test", { params: { path: { account_id: account.id } } })),
  });
  const isRoot = account.provider === "aws" ? account.aws_is_org_root : account.is_discovery_root;
  const close = () => setDialog(null);

  return (
    <Fragment>
      <Table.Tr data-account-id={account.id} aria-label={account.name}>
        <Table.Td>
          <Group gap={6} wrap="nowrap">
            <Text size="sm" fw={500} style={{ wordBreak: "break-word" }}>
              {account.name}
            </Text>
            {!account.enabled && (
              <Badge size="xs" color="gray">
                disabled
              </Badge>
            )}
            {isRoot && (
              <Badge size="xs" color="teal" variant="light">
                root
              </Badge>
            )}
          </Group>
        </Table.Td>
        <Table.Td>
          <Text size="sm" ff="monospace">
            {account.external_id}
          </Text>
        </Table.Td>
        <Table.Td>
          <Badge variant="light">{mode ? (AUTH_MODE_LABEL[mode] ?? mode) : "—"}</Badge>
        </Table.Td>
        <Table.Td>
          {account.credentials_configured ? (
            <Badge color="green" variant="light">
              Credentials set
            </Badge>
          ) : (
            <Badge color="orange" variant="light">
              No credentials
            </Badge>
          )}
        </Table.Td>
        <Table.Td>
          <CollectionStatus account={account} />
        </Table.Td>
        <Table.Td>
          <Group gap={4} wrap="nowrap">
            {can(me, "accounts", "test_credentials") && (
              <Button size="compact-xs" variant="light" loading={test.isPending} onClick={() => test.mutate()} aria-label={`Test ${account.name}`}>
                Test
              </Button>
            )}
            {can(me, "accounts", "manage_credentials") && (
              <Button size="compact-xs" variant="light" onClick={() => setDialog("credentials")} aria-label={`Credentials of ${account.name}`}>
                Credentials
              </Button>
            )}
            <Button size="compact-xs" variant={showOverrides ? "filled" : "light"} onClick={() => setShowOverrides((v) => !v)} aria-expanded={showOverrides} aria-label={`Overrides of ${account.name}`}>
              Overrides
            </Button>
            {can(me, "accounts", "update") && (
              <Button size="compact-xs" variant="light" onClick={() => setDialog("edit")} aria-label={`Edit ${account.name}`}>
                Edit
              </Button>
            )}
            {isRoot && me?.role === "admin" && (
              <Button size="compact-xs" variant="light" color="teal" onClick={() => setDialog("discover")} aria-label={`Discover accounts under ${account.name}`}>
                Discover accounts
              </Button>
            )}
            {can(me, "accounts", "delete") && (
              <Button size="compact-xs" variant="light" color="red" onClick={() => setDialog("delete")} aria-label={`Delete ${account.name}`}>
                Delete
              </Button>
            )}
          </Group>
        </Table.Td>
      </Table.Tr>
      {(test.data || test.error) && (
        <Table.Tr>
          <Table.Td colSpan={6}>
            <TestResult result={test.data} error={test.error} name={account.name} onDismiss={() => test.reset()} />
          </Table.Td>
        </Table.Tr>
      )}
      {showOverrides && (
        <Table.Tr>
          <Table.Td colSpan={6}>
            <OverridesPanel account={account} canEdit={can(me, "accounts", "update")} />
          </Table.Td>
        </Table.Tr>
      )}
      <Modal opened={dialog === "edit"} onClose={close} title={`Edit ${account.name}`} size="lg">
        {dialog === "edit" && <AccountForm provider={account.provider} account={account} bastions={bastions} onDone={close} onCancel={close} />}
      </Modal>
      <Modal opened={dialog === "credentials"} onClose={close} title={`Credentials of ${account.name}`}>
        {dialog === "credentials" && <CredentialsForm account={account} onDone={close} />}
      </Modal>
      <Modal opened={dialog === "delete"} onClose={close} title={`Delete ${account.name}?`}>
        {dialog === "delete" && <DeleteAccount account={account} onDone={close} />}
      </Modal>
      <Modal opened={dialog === "discover"} onClose={close} title={`Discover accounts under ${account.name}`} size="lg">
        {dialog === "discover" && <DiscoverAccounts account={account} onDone={close} />}
      </Modal>
    </Fragment>
  );
}

function TestResult({ result, error, name, onDismiss }: { result?: Schemas["ConnectivityTestOut"]; error: unknown; name: string; onDismiss(): void }) {
  const ok = result?.ok === true;
  const text = result ? (result.ok ? `Connected as ${result.caller_identity ?? "?"}` : (result.error ?? "failed")) : errorMessage(error);
  return (
    <div role="status" aria-label={`Test result for ${name}`}>
    <Alert
      color={ok ? "green" : "red"}
      variant="light"
      title={ok ? "Test succeeded" : "Test failed"}
      withCloseButton
      closeButtonLabel="Dismiss test result"
      onClose={onDismiss}
      py={6}
    >
      <Text size="sm" style={{ wordBreak: "break-word" }}>
        {text}
      </Text>
    </Alert>
    </div>
  );
}

export function conflictDetails(error: unknown): string[] {
  if (!(error instanceof ApiError) || error.status !== 409) return [];
  const body = error.body as Conflict;
  const lines: string[] = [];
  for (const dependant of body.dependants ?? []) lines.push(`Bastion of: ${dependant.name}`);
  for (const execution of body.executions ?? []) lines.push(`Active execution: ${execution}`);
  return lines;
}

function DeleteAccount({ account, onDone }: { account: Account; onDone(): void }) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/accounts/{account_id}", { params: { path: { account_id: account.id } } })),
    onSuccess: () => {
      queryClient.setQueryData<{ accounts: Account[] }>(["accounts"], (old) => old && { accounts: old.accounts.filter((a) => a.id !== account.id) });
      void queryClient.invalidateQueries({ queryKey: ["accounts"] });
      onDone();
    },
  });
  const details = conflictDetails(remove.error);
  return (
    <Stack>
      <Text size="sm">
        This deletes the account with its credentials, overrides and plan links. Purchase history keeps its rows.
      </Text>
      {remove.error && (
        <Alert color="red" role="alert" title="Cannot delete">
          <Text size="sm">{errorMessage(remove.error)}</Text>
          {details.length > 0 && (
            <List size="sm" mt={4}>
              {details.map((line) => (
                <List.Item key={line}>{line}</List.Item>
              ))}
            </List>
          )}
        </Alert>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onDone}>
          Cancel
        </Button>
        <Button color="red" loading={remove.isPending} onClick={() => remove.mutate()}>
          Delete account
        </Button>
      </Group>
    </Stack>
  );
}

function DiscoverAccounts({ account, onDone }: { account: Account; onDone(): void }) {
  const queryClient = useQueryClient();
  const discover = useMutation({
    mutationFn: () => unwrap(api.POST("/api/accounts/discover-org", { body: { org_root_account_id: account.id } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["accounts"] }),
  });
  const result: Discovered | undefined = discover.data;
  return (
    <Stack>
      <Text size="sm">
        Lists the accounts below this root with its credentials. New ones are added <b>disabled</b>; existing ones are skipped.
      </Text>
      {discover.error && <Alert color="red" role="alert">{errorMessage(discover.error)}</Alert>}
      {result && (
        <Stack gap="xs" role="status" aria-label="Discovery result">
          <Text size="sm" fw={600}>
            Discovered {result.discovered}: {result.created} created, {result.skipped} skipped
          </Text>
          <Table withTableBorder verticalSpacing={2} aria-label="Discovered accounts">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>External ID</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {result.accounts.map((found) => (
                <Table.Tr key={found.external_id}>
                  <Table.Td>{found.name}</Table.Td>
                  <Table.Td>{found.external_id}</Table.Td>
                  <Table.Td>{found.created ? "created" : "skipped"}</Table.Td>
                </Table.Tr>
              ))}
              {result.ignored.map((found) => (
                <Table.Tr key={`ignored-${found.external_id}`}>
                  <Table.Td>{found.name}</Table.Td>
                  <Table.Td>{found.external_id}</Table.Td>
                  <Table.Td>ignored: {found.reason}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Stack>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onDone}>
          Close
        </Button>
        {!result && (
          <Button loading={discover.isPending} onClick={() => discover.mutate()}>
            Discover now
          </Button>
        )}
      </Group>
    </Stack>
  );
}
