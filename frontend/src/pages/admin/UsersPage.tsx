import { Alert, Badge, Button, Checkbox, Group, Modal, MultiSelect, PasswordInput, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { roleValues } from "../../api/schema";
import { useAuth } from "../../auth/AuthContext";
import { Empty, ErrorState, Loading } from "../../components/States";

type UserOut = Schemas["UserOut"];

export function UsersPage() {
  const { me } = useAuth();
  const users = useQuery({ queryKey: ["users"], queryFn: () => unwrap(api.GET("/api/users")) });
  const groups = useQuery({ queryKey: ["groups"], queryFn: () => unwrap(api.GET("/api/groups")) });
  const [editing, setEditing] = useState<UserOut | "new" | null>(null);
  const [deleting, setDeleting] = useState<UserOut | null>(null);
  const groupNames = new Map((groups.data?.groups ?? []).map((g) => [g.id, g.name]));
  const groupOptions = (groups.data?.groups ?? []).map((g) => ({ value: g.id, label: g.name }));

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Users</Title>
        <Button onClick={() => setEditing("new")}>Add user</Button>
      </Group>
      {users.isPending ? (
        <Loading label="Loading users" />
      ) : users.error ? (
        <ErrorState error={users.error} />
      ) : users.data.users.length === 0 ? (
        <Empty>No users.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={700}>
          <Table aria-label="Users" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Groups</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.data.users.map((user) => (
                <Table.Tr key={user.id}>
                  <Table.Td>{user.email}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={user.role === "admin" ? "grape" : "blue"}>
                      {user.role}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{user.is_active ? "active" : <Badge color="gray">inactive</Badge>}</Table.Td>
                  <Table.Td>
                    <Text size="sm">{user.group_ids.map((id) => groupNames.get(id) ?? id).join(", ") || "—"}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-xs" variant="light" onClick={() => setEditing(user)} aria-label={`Edit user ${user.email}`}>
                        Edit
                      </Button>
                      {user.id !== me?.id && (
                        <Button size="compact-xs" variant="light" color="red" onClick={() => setDeleting(user)} aria-label={`Delete user ${user.email}`}>
                          Delete
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === "new" || editing === null ? "Add user" : "Edit user"}>
        {editing !== null && <UserForm user={editing === "new" ? undefined : editing} groupOptions={groupOptions} onDone={() => setEditing(null)} />}
      </Modal>
      <Modal opened={deleting !== null} onClose={() => setDeleting(null)} title={`Delete user ${deleting?.email ?? ""}?`}>
        {deleting && <DeleteUser user={deleting} onDone={() => setDeleting(null)} />}
      </Modal>
    </Stack>
  );
}

function DeleteUser({ user, onDone }: { user: UserOut; onDone(): void }) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE("/api/users/{user_id}", { params: { path: { user_id: user.id } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      onDone();
    },
  });
  return (
    <Stack>
      <Text size="sm">The user can no longer sign in; their API keys stop working.</Text>
      {remove.error && <Alert color="red" role="alert">{errorMessage(remove.error)}</Alert>}
      <Group justify="flex-end">
        <Button variant="default" onClick={onDone}>
          Cancel
        </Button>
        <Button color="red" loading={remove.isPending} onClick={() => remove.mutate()}>
          Delete user
        </Button>
      </Group>
    </Stack>
  );
}

function UserForm({ user, groupOptions, onDone }: { user?: UserOut; groupOptions: { value: string; label: string }[]; onDone(): void }) {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState(user?.email ?? "");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<string>(user?.role ?? "user");
  const [active, setActive] = useState(user?.is_active ?? true);
  const [groupIds, setGroupIds] = useState<string[]>(user?.group_ids ?? []);
  const save = useMutation({
    mutationFn: () => {
      const typedRole = role as UserOut["role"];
      if (user) {
        return unwrap(
          api.PUT("/api/users/{user_id}", {
            params: { path: { user_id: user.id } },
            body: { email: email.trim(), role: typedRole, is_active: active, group_ids: groupIds, ...(password ? { password } : {}) },
          }),
        );
      }
      return unwrap(api.POST("/api/users", { body: { email: email.trim(), password, role: typedRole, group_ids: groupIds } }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      onDone();
    },
  });
  const fields = save.error instanceof ApiError ? save.error.fields : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="User">
      <Stack>
        <TextInput label="Email" type="email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} error={fields.email} />
        <PasswordInput
          label={user ? "New password (leave blank to keep)" : "Password"}
          description="At least 10 characters"
          required={!user}
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.currentTarget.value)}
          error={fields.password}
        />
        <Select label="Role" allowDeselect={false} data={[...roleValues]} value={role} onChange={(v) => setRole(v ?? role)} error={fields.role} />
        <MultiSelect label="Groups" data={groupOptions} value={groupIds} onChange={setGroupIds} searchable clearable error={fields.group_ids} />
        {user && <Checkbox label="Active" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} />}
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
            Save user
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
