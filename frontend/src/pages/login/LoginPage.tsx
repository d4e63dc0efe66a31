import { Alert, Anchor, Button, Center, Paper, PasswordInput, Stack, Tabs, Text, TextInput, Title } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Navigate, useSearchParams } from "react-router-dom";
import { api } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { useAuth } from "../../auth/AuthContext";

/** Only same-site paths: `?next=https://evil` must not redirect off the app. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/login")) return "/";
  return next;
}

export function LoginPage() {
  const { me, signIn } = useAuth();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const [tab, setTab] = useState<string>("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [setupInfo, setSetupInfo] = useState<string | null>(null);

  const login = useMutation({
    mutationFn: (body: { email: string; password: string }) => unwrap(api.POST("/api/auth/login", { body })),
    onMutate: () => setSetupInfo(null),
    onSuccess: (result) => signIn(result.token),
  });
  const setup = useMutation({
    mutationFn: async (body: { email: string; password: string }) => {
      await unwrap(api.POST("/api/auth/setup-admin", { body }));
      return unwrap(api.POST("/api/auth/login", { body }));
    },
    onSuccess: (result) => signIn(result.token),
    onError: (error) => {
      if (error instanceof ApiError && error.status === 409) {
        setSetupInfo(`${error.message}.`);
        setTab("login");
      }
    },
  });

  if (me) return <Navigate to={next} replace />;

  const submitLogin = (event: FormEvent) => {
    event.preventDefault();
    login.mutate({ email, password });
  };
  const submitSetup = (event: FormEvent) => {
    event.preventDefault();
    setup.mutate({ email, password });
  };
  const setupError = setup.error instanceof ApiError && setup.error.status !== 409 ? setup.error : null;

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        <Title order={1} size="h2" mb="xs">
          CUDly
        </Title>
        <Text c="dimmed" size="sm" mb="md">
          Cloud commitments across all your accounts
        </Text>
        <Tabs value={tab} onChange={(value) => setTab(value ?? "login")} keepMounted={false}>
          <Tabs.List grow mb="md">
            <Tabs.Tab value="login">Sign in</Tabs.Tab>
            <Tabs.Tab value="setup">First-run setup</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="login">
            <form onSubmit={submitLogin} aria-label="Sign in">
              <Stack>
                {setupInfo && (
                  <Alert color="blue" role="status">
                    {setupInfo}
                  </Alert>
                )}
                <TextInput label="Email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} />
                <PasswordInput label="Password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
                {login.error && (
                  <Alert color="red" role="alert">
                    {errorMessage(login.error)}
                  </Alert>
                )}
                <Button type="submit" loading={login.isPending}>
                  Sign in
                </Button>
                <Text size="xs" c="dimmed">
                  New installation?{" "}
                  <Anchor component="button" type="button" size="xs" onClick={() => setTab("setup")}>
                    Create the first administrator
                  </Anchor>
                </Text>
              </Stack>
            </form>
          </Tabs.Panel>
          <Tabs.Panel value="setup">
            <form onSubmit={submitSetup} aria-label="First-run setup">
              <Stack>
                <Text size="sm">
                  No administrator yet? Create the first one here. This works only once: after that, administrators add users.
                </Text>
                <TextInput
                  label="Admin email"
                  type="email"
                  autoComplete="username"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.currentTarget.value)}
                  error={setupError?.fields.email}
                />
                <PasswordInput
                  label="Admin password"
                  description="At least 10 characters"
                  autoComplete="new-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.currentTarget.value)}
                  error={setupError?.fields.password}
                />
                {setupError && (
                  <Alert color="red" role="alert">
                    {errorMessage(setupError)}
                  </Alert>
                )}
                <Button type="submit" loading={setup.isPending}>
                  Create administrator
                </Button>
              </Stack>
            </form>
          </Tabs.Panel>
        </Tabs>
      </Paper>
    </Center>
  );
}
