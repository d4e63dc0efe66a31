import { Button, Code, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Empty, ErrorState, Loading } from "../../components/States";
import { localToIso } from "./ApiKeysPage";

export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = { target_id: params.get("target_id") ?? "", actor: params.get("actor") ?? "", since: params.get("since") ?? "" };
  const [draft, setDraft] = useState(filters);
  const events = useInfiniteQuery({
    queryKey: ["audit", filters],
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/audit", {
          params: {
            query: {
              target_id: filters.target_id || undefined,
              actor: filters.actor || undefined,
              since: localToIso(filters.since) ?? undefined,
              cursor: pageParam ?? undefined,
              limit: 100,
            },
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of Object.entries(draft)) if (value.trim()) next.set(key, value.trim());
    setParams(next);
  };
  const rows = events.data?.pages.flatMap((page) => page.events) ?? [];

  return (
    <Stack>
      <Title order={2}>Audit log</Title>
      <form onSubmit={submit} aria-label="Audit filters">
        <Group align="flex-end">
          <TextInput label="Target ID" value={draft.target_id} onChange={(e) => setDraft({ ...draft, target_id: e.currentTarget.value })} />
          <TextInput label="Actor (email or user id)" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.currentTarget.value })} />
          <TextInput label="Since" type="datetime-local" value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />
          <Button type="submit">Apply filters</Button>
        </Group>
      </form>
      {events.isPending ? (
        <Loading label="Loading audit events" />
      ) : events.error ? (
        <ErrorState error={events.error} />
      ) : rows.length === 0 ? (
        <Empty>No audit events match.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label="Audit events" withTableBorder verticalSpacing={4} striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Actor</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>Changed fields</Table.Th>
                <Table.Th>Request</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((event) => (
                <Table.Tr key={event.id}>
                  <Table.Td>
                    <Text size="xs">{new Date(event.created_at).toLocaleString()}</Text>
                  </Table.Td>
                  <Table.Td>{event.actor_email ?? event.actor_id ?? "system"}</Table.Td>
                  <Table.Td>
                    <Code>{event.action}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs">
                      {event.target_type} <Code>{event.target_id ?? "—"}</Code>
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs">{event.changed_fields.join(", ") || "—"}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs" ff="monospace">
                      {event.request_id ?? "—"}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {events.hasNextPage && (
        <Button variant="default" onClick={() => void events.fetchNextPage()} loading={events.isFetchingNextPage}>
          Load more
        </Button>
      )}
    </Stack>
  );
}
