import { Alert, Button, Checkbox, Group, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState, type FormEvent } from "react";
import { api, type Schemas } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { paymentValues, providerValues } from "../../api/schema";
import { can, useAuth } from "../../auth/AuthContext";
import { ErrorState, Loading } from "../../components/States";
import { PROVIDER_LABEL } from "./accountForm";

type ServiceConfig = Schemas["ServiceConfigOut"];

const list = (values: string[]) => (values.length ? values.join(", ") : "—");

export function ServiceDefaults() {
  const { me } = useAuth();
  const configs = useQuery({ queryKey: ["service-configs"], queryFn: () => unwrap(api.GET("/api/config")) });
  const [editing, setEditing] = useState<string | null>(null);
  if (configs.isPending) return <Loading label="Loading service defaults" />;
  if (configs.error) return <ErrorState error={configs.error} />;
  const editable = can(me, "config", "update");
  return (
    <Stack>
      <Text size="sm" c="dimmed">
        Global defaults per service. Accounts inherit them unless an override sets a value.
      </Text>
      {providerValues.map((provider) => {
        const rows = configs.data.service_configs.filter((c) => c.provider === provider);
        if (!rows.length) return null;
        return (
          <Stack key={provider} gap="xs" component="section">
            <Title order={4}>{PROVIDER_LABEL[provider]}</Title>
            <Table.ScrollContainer minWidth={760}>
              <Table withTableBorder aria-label={`${PROVIDER_LABEL[provider]} service defaults`} verticalSpacing={4}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Service</Table.Th>
                    <Table.Th>Enabled</Table.Th>
                    <Table.Th>Term</Table.Th>
                    <Table.Th>Payment</Table.Th>
                    <Table.Th>Coverage</Table.Th>
                    <Table.Th>Regions</Table.Th>
                    <Table.Th>Actions</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {rows.map((config) => {
                    const key = `${config.provider}:${config.service}`;
                    return (
                      <Fragment key={key}>
                        <Table.Tr>
                          <Table.Td fw={500}>{config.service}</Table.Td>
                          <Table.Td>{config.enabled ? "yes" : "no"}</Table.Td>
                          <Table.Td>{config.term} yr</Table.Td>
                          <Table.Td>{config.payment}</Table.Td>
                          <Table.Td>{config.coverage}%</Table.Td>
                          <Table.Td>
                            <Text size="xs">
                              {config.include_regions.length ? `only ${list(config.include_regions)}` : "all"}
                              {config.exclude_regions.length ? `; not ${list(config.exclude_regions)}` : ""}
                            </Text>
                          </Table.Td>
                          <Table.Td>
                            {editable && (
                              <Button size="compact-xs" variant="light" onClick={() => setEditing(editing === key ? null : key)} aria-label={`Edit default ${key}`}>
                                Edit
                              </Button>
                            )}
                          </Table.Td>
                        </Table.Tr>
                        {editing === key && (
                          <Table.Tr>
                            <Table.Td colSpan={7}>
                              <DefaultEditor config={config} onDone={() => setEditing(null)} />
                            </Table.Td>
                          </Table.Tr>
                        )}
                      </Fragment>
                    );
                  })}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Stack>
        );
      })}
    </Stack>
  );
}

const splitList = (text: string) =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

function DefaultEditor({ config, onDone }: { config: ServiceConfig; onDone(): void }) {
  const queryClient = useQueryClient();
  const [enabled, setEnabled] = useState(config.enabled);
  const [term, setTerm] = useState(String(config.term));
  const [payment, setPayment] = useState<string>(config.payment);
  const [coverage, setCoverage] = useState(String(config.coverage));
  const [include, setInclude] = useState(config.include_regions.join(", "));
  const [exclude, setExclude] = useState(config.exclude_regions.join(", "));
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT("/api/config/service/{provider}/{service}", {
          params: { path: { provider: config.provider, service: config.service } },
          body: {
            enabled,
            term: Number(term) as 1 | 3,
            payment: payment as ServiceConfig["payment"],
            coverage: coverage.trim(),
            ramp_schedule: config.ramp_schedule,
            include_regions: splitList(include),
            exclude_regions: splitList(exclude),
            include_types: config.include_types,
            exclude_types: config.exclude_types,
            include_engines: config.include_engines,
            exclude_engines: config.exclude_engines,
          },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["service-configs"] });
      void queryClient.invalidateQueries({ queryKey: ["effective-config"] });
      onDone();
    },
  });
  const fields = save.error instanceof ApiError ? save.error.fields : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} aria-label={`Default ${config.provider}:${config.service}`}>
      <Group align="flex-end" gap="sm">
        <Checkbox label="Enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} mb={8} />
        <Select label="Term" w={120} allowDeselect={false} value={term} onChange={(v) => setTerm(v ?? term)} data={[{ value: "1", label: "1 year" }, { value: "3", label: "3 years" }]} error={fields.term} />
        <Select label="Payment" w={170} allowDeselect={false} value={payment} onChange={(v) => setPayment(v ?? payment)} data={[...paymentValues]} error={fields.payment} />
        <TextInput label="Coverage %" w={110} value={coverage} onChange={(e) => setCoverage(e.currentTarget.value)} error={fields.coverage} />
        <TextInput label="Include regions" placeholder="all" w={180} value={include} onChange={(e) => setInclude(e.currentTarget.value)} error={fields.include_regions} />
        <TextInput label="Exclude regions" placeholder="none" w={180} value={exclude} onChange={(e) => setExclude(e.currentTarget.value)} error={fields.exclude_regions} />
        <Button type="submit" loading={save.isPending}>
          Save default
        </Button>
        <Button variant="default" onClick={onDone}>
          Cancel
        </Button>
      </Group>
      {save.error && (
        <Alert color="red" role="alert" mt="xs">
          {errorMessage(save.error)}
        </Alert>
      )}
    </form>
  );
}
