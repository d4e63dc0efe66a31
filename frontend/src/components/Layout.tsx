import { AppShell, Badge, Burger, Button, Group, NavLink, ScrollArea, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { Link, Outlet, useLocation } from "react-router-dom";
import { can, useAuth } from "../auth/AuthContext";

interface NavItem {
  to: string;
  label: string;
  show: boolean;
}

export function Layout() {
  const { me, signOut } = useAuth();
  const [opened, { toggle, close }] = useDisclosure(false);
  const location = useLocation();
  const admin = me?.role === "admin";
  const items: NavItem[] = [
    { to: "/dashboard", label: "Dashboard", show: can(me, "history", "view") },
    { to: "/recommendations", label: "Recommendations", show: can(me, "recommendations", "view") },
    { to: "/plans", label: "Plans", show: can(me, "plans", "view") },
    { to: "/executions", label: "Executions", show: can(me, "plans", "view") },
    { to: "/history", label: "History", show: can(me, "history", "view") },
    { to: "/commitments", label: "Commitments", show: can(me, "history", "view") },
    { to: "/settings/accounts", label: "Settings", show: true },
  ];
  const adminItems: NavItem[] = [
    { to: "/admin/users", label: "Users", show: admin },
    { to: "/admin/groups", label: "Groups", show: admin },
    { to: "/admin/api-keys", label: "API keys", show: true },
    { to: "/admin/audit", label: "Audit log", show: admin },
  ];
  const active = (to: string) => location.pathname === to || location.pathname.startsWith(`${to.replace(/\/accounts$/, "")}/`);

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 210, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Title order={3} component="span">
              CUDly
            </Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            {me && (
              <Group gap={6} wrap="nowrap" aria-label="Signed in user" visibleFrom="sm">
                <Text size="sm" truncate maw={220} data-testid="current-user">
                  {me.email}
                </Text>
                <Badge variant="light" size="sm">
                  {me.role}
                </Badge>
              </Group>
            )}
            <Button variant="default" size="xs" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        <ScrollArea>
          {items
            .filter((item) => item.show)
            .map((item) => (
              <NavLink key={item.to} component={Link} to={item.to} label={item.label} active={active(item.to)} onClick={close} />
            ))}
          <Text size="xs" c="dimmed" mt="md" mb={4} px="sm" tt="uppercase">
            Administration
          </Text>
          {adminItems
            .filter((item) => item.show)
            .map((item) => (
              <NavLink key={item.to} component={Link} to={item.to} label={item.label} active={active(item.to)} onClick={close} />
            ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
