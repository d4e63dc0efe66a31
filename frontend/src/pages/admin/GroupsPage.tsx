import { ActionIcon, Alert, Badge, Button, Group, Modal, MultiSelect, Select, Stack, Table, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, type Account, type Schemas } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { Empty, ErrorState, Loading } from "../../components/States";
import { useAccounts } from "../settings/SettingsPage";
import { GRANTABLE_RESOURCES, actionsFor, toPermissions, toRows, type PermissionRow } from "./permissions";

type GroupOut = Schemas["GroupOut"];

export function GroupsPage() {
  const groups = useQuery({ queryKey: ["groups"], queryFn: () => unwrap(api.GET("/api/groups")) });
  const accounts = useAccounts();
  const [editing, setEditing] = useState<GroupOut | "new" | null>(null);
  const [deleting, setDeleting] = useState<GroupOut | null>(null);
  const names = new Map((accounts.data?.accounts ?? []).map((a) => [a.id, a.name]));

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Groups</Title>
        <Button onClick={() => setEditing("new")}>Add group</Button>
      </Group>
      {groups.isPending ? (
        <Loading label="Loading groups" />
      ) : groups.error ? (
        <ErrorState error={groups.error} />
      ) : groups.data.groups.length === 0 ? (
        <Empty>No groups yet. Users get their permissions from groups.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={700}>
          <Table aria-label="Groups" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Permissions</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {groups.data.groups.map((group) => (
                <Table.Tr key={group.id}>
                  <Table.Td>
                    <Text fw={500} size="sm">
                      {group.name}
                    </Text>
                    {group.description && (
                      <Text size="xs" c="dimmed">
                        {group.description}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {group.permissions.map((p, index) => (
                        <Badge key={index} variant="light" tt="none">
                          {p.resource}:{p.action}
                          {p.constraints?.accounts?.length ? ` (${p.constraints.accounts.map((id) => names.get(id) ?? id).join(", ")})` : ""}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-xs" variant="light" onClick={() => setEditing(group)} aria-label={`Edit group ${group.name}`}>
                        Edit
                      </Button>
                      <Button size="compact-xs" variant="light" color="red" onClick={() => setDeleting(group)} aria-label={`Delete group ${group.name}`}>
                        Delete
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === "new" || editing === null ? "Add group" : "Edit group"} size="xl">
        {editing !== null && <GroupForm group={editing === "new" ? undefined : editing} accounts={accounts.data?.accounts ?? []} onDone={() => setEditing(null)} />}
      </Modal>
      <Modal opened={deleting !== null} onClose={() => setDeleting(null)} title={`Delete group ${deleting?.name ?? ""}?`}>
        {deleting && <DeleteGroup group={deleting} onDone={() => setDeleting(null)} />}
      </Modal>
    </Stack>
  );
}

function DeleteGroup({ group, onDone }: { group: GroupOut; onDone(): void }) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/groups/{group_id}", { params: { path: { group_id: group.id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["groups"] });
      onDone();
    },
  });
  return (
    <Stack>
      <Text size="sm">Its members lose the permissions it grants.</Text>
      {remove.error && <Alert color="red" role="alert">{errorMessage(remove.error)}</Alert>}
      <Group justify="flex-end">
        <Button variant="default" onClick={onDone}>
          Cancel
        </Button>
        <Button color="red" loading={remove.isPending} onClick={() => remove.mutate()}>
          Delete group
        </Button>
      </Group>
    </Stack>
  );
}

function GroupForm({ group, accounts, onDone }: { group?: GroupOut; accounts: Account[]; onDone(): void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(group?.name ?? "");
  const [description, setDescription] = useState(group?.description ?? "");
  const [rows, setRows] = useState<PermissionRow[]>(() => toRows(group?.permissions ?? []));
  const save = useMutation({
    mutationFn: () => {
      const body = { name: name.trim(), description: description.trim() || null, permissions: toPermissions(rows) };
      return group
        ? unwrap(api.PUT("/api/groups/{group_id}", { params: { path: { group_id: group.id } }, body }))
        : unwrap(api.POST("/api/groups", { body }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["groups"] });
      onDone();
    },
  });
  const fields = save.error instanceof ApiError ? save.error.fields : {};
  const update = (index: number, patch: Partial<PermissionRow>) => setRows((old) => old.map((row, i) => (i === index ? { ...row, ...patch } : row)));
  const accountOptions = accounts.map((a) => ({ value: a.id, label: `${a.name} (${a.provider} ${a.external_id})` }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Group">
      <Stack>
        <TextInput label="Group name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={fields.name} />
        <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} error={fields.description} autosize />
        <Text fw={600} size="sm">
          Permissions
        </Text>
        {rows.length === 0 && <Text size="sm" c="dimmed">No permissions: members can see nothing.</Text>}
        {rows.map((row, index) => (
          <Group key={index} align="flex-end" gap="xs" wrap="nowrap" aria-label={`Permission ${index + 1}`} role="group">
            <Select
              label={`Resource ${index + 1}`}
              w={160}
              allowDeselect={false}
              data={GRANTABLE_RESOURCES}
              value={row.resource}
              onChange={(value) => {
                if (!value) return;
                const resource = value as PermissionRow["resource"];
                const actions = actionsFor(resource);
                update(index, { resource, action: actions.includes(row.action) ? row.action : (actions[0] ?? row.action) });
              }}
            />
            <Select label={`Action ${index + 1}`} w={190} allowDeselect={false} data={actionsFor(row.resource)} value={row.action} onChange={(value) => value && update(index, { action: value as PermissionRow["action"] })} />
            <MultiSelect
              label={`Accounts ${index + 1}`}
              placeholder={row.accounts.length ? undefined : "All accounts"}
              data={accountOptions}
              value={row.accounts}
              onChange={(value) => update(index, { accounts: value })}
              searchable
              clearable
              style={{ flex: 1 }}
              error={fields[`permissions.${index}.constraints.accounts`]}
            />
            <ActionIcon variant="subtle" color="red" size="lg" onClick={() => setRows((old) => old.filter((_, i) => i !== index))} aria-label={`Remove permission ${index + 1}`}>
              ✕
            </ActionIcon>
          </Group>
        ))}
        <Button variant="light" onClick={() => setRows((old) => [...old, { resource: "accounts", action: "view", accounts: [] }])} w="fit-content">
          Add permission
        </Button>
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
            Save group
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
