import { Alert, Badge, Button, Group, Progress, Stack, Table, Text } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { api, type Schemas } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import { streamEvents } from "../../lib/sse";

type RunAccount = Schemas["RunAccountOut"];

const STATUS_COLOR: Record<string, string> = { ok: "green", failed: "red", timeout: "orange", skipped: "gray", running: "blue", pending: "gray" };

/** Refresh: starts a collection run and shows each account as it finishes (SSE). */
export function RefreshButton({ accountIds }: { accountIds: string[] }) {
  const queryClient = useQueryClient();
  const [runId, setRunId] = useState<string | null>(null);
  const refresh = useMutation({
    mutationFn: () => unwrap(api.POST("/api/recommendations/refresh", { body: accountIds.length ? { account_ids: accountIds } : {} })),
    onSuccess: (result) => setRunId(result.run_id),
  });
  return (
    <Stack gap="xs">
      <Group>
        <Button onClick={() => refresh.mutate()} loading={refresh.isPending} disabled={runId !== null}>
          Refresh recommendations
        </Button>
      </Group>
      {refresh.error && <Alert color="red" role="alert">{errorMessage(refresh.error)}</Alert>}
      {runId && (
        <RunProgress
          runId={runId}
          onFinished={() => {
            const reload = () => {
              void queryClient.invalidateQueries({ queryKey: ["recommendations"] });
              void queryClient.invalidateQueries({ queryKey: ["freshness"] });
              void queryClient.invalidateQueries({ queryKey: ["dashboard"] });
            };
            reload();
            // The stream can announce the end a moment before the last account's rows are
            // visible to a new read: look once more shortly after.
            window.setTimeout(reload, 1500);
          }}
          onClose={() => setRunId(null)}
        />
      )}
    </Stack>
  );
}

function RunProgress({ runId, onFinished, onClose }: { runId: string; onFinished(): void; onClose(): void }) {
  const [accounts, setAccounts] = useState<RunAccount[]>([]);
  const [run, setRun] = useState<{ status: string; accounts_total?: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const finished = useRef(onFinished);
  finished.current = onFinished;

  useEffect(() => {
    const abort = new AbortController();
    void api.GET("/api/collection-runs/{run_id}", { params: { path: { run_id: runId } } }).then(({ data }) => {
      if (data) setRun((old) => old ?? { status: data.status, accounts_total: data.accounts_total });
    });
    streamEvents(
      `/api/collection-runs/${runId}/events`,
      (event) => {
        const data = JSON.parse(event.data) as Record<string, unknown>;
        if (event.event === "account") {
          const row = data as unknown as RunAccount;
          setAccounts((old) => [...old.filter((a) => a.cloud_account_id !== row.cloud_account_id || a.account_name !== row.account_name), row]);
          if (row.status === "ok") finished.current();
        } else if (event.event === "run") {
          setRun({ status: String(data.status), accounts_total: Number(data.accounts_total ?? 0) });
          finished.current();
        }
      },
      abort.signal,
    ).catch((e: unknown) => {
      if (!abort.signal.aborted) setError(errorMessage(e));
    });
    return () => abort.abort();
  }, [runId]);

  const total = run?.accounts_total ?? 0;
  const done = accounts.length;
  const failed = accounts.filter((a) => a.status === "failed" || a.status === "timeout").length;
  const running = run === null || run.status === "running";
  return (
    <Stack gap="xs" role="region" aria-label="Collection progress">
      <Group justify="space-between">
        <Text size="sm" fw={600} role="status">
          {running ? "Collecting" : `Run ${run.status}`}: {done} of {total || "?"} accounts finished, {failed} failed
        </Text>
        {!running && (
          <Button size="compact-xs" variant="default" onClick={onClose}>
            Close progress
          </Button>
        )}
      </Group>
      <Progress value={total ? (done / total) * 100 : running ? 5 : 100} color={failed ? "orange" : "blue"} animated={running} aria-label="Accounts finished" />
      {error && <Alert color="red" role="alert">{error}</Alert>}
      {accounts.length > 0 && (
        <Table withTableBorder verticalSpacing={2} aria-label="Collection progress per account">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Account</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Recommendations</Table.Th>
              <Table.Th>Duration</Table.Th>
              <Table.Th>Error / warnings</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {accounts.map((a) => (
              <Table.Tr key={`${a.cloud_account_id}-${a.account_name}`}>
                <Table.Td style={{ whiteSpace: "nowrap" }}>{a.account_name}</Table.Td>
                <Table.Td>
                  <Badge color={STATUS_COLOR[a.status] ?? "gray"} variant="light">
                    {a.status}
                  </Badge>
                </Table.Td>
                <Table.Td>{a.recommendation_count}</Table.Td>
                <Table.Td>{a.duration_ms === null ? "—" : `${(a.duration_ms / 1000).toFixed(1)} s`}</Table.Td>
                <Table.Td>
                  <Text size="xs" style={{ wordBreak: "break-word" }}>
                    {[a.error, ...a.warnings].filter(Boolean).join("; ") || "—"}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
