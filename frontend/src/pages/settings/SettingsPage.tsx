import { Stack, Tabs, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useNavigate, useParams } from "react-router-dom";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { providerValues } from "../../api/schema";
import { ErrorState, Loading } from "../../components/States";
import { AccountsSection } from "./AccountsSection";
import { ServiceDefaults } from "./ServiceDefaults";

export function useAccounts() {
  return useQuery({ queryKey: ["accounts"], queryFn: () => unwrap(api.GET("/api/accounts")) });
}

export function SettingsPage() {
  const { tab = "accounts" } = useParams();
  const navigate = useNavigate();
  const accounts = useAccounts();
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Tabs value={tab} onChange={(value) => navigate(`/settings/${value ?? "accounts"}`)} keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="accounts">Accounts</Tabs.Tab>
          <Tabs.Tab value="defaults">Service defaults</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="accounts">
          {accounts.isPending ? (
            <Loading label="Loading accounts" />
          ) : accounts.error ? (
            <ErrorState error={accounts.error} />
          ) : (
            <Stack>
              {providerValues.map((provider) => (
                <AccountsSection key={provider} provider={provider} accounts={accounts.data.accounts} />
              ))}
            </Stack>
          )}
        </Tabs.Panel>
        <Tabs.Panel value="defaults">
          <ServiceDefaults />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
