import { Alert, Center, Loader, Text } from "@mantine/core";
import { errorMessage } from "../api/errors";

export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <Center p="lg">
      <Loader size="sm" aria-label={label} />
    </Center>
  );
}

export function ErrorState({ error, title = "Could not load" }: { error: unknown; title?: string }) {
  return (
    <Alert color="red" title={title} role="alert">
      {errorMessage(error)}
    </Alert>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <Text c="dimmed" p="md" ta="center">
      {children}
    </Text>
  );
}
