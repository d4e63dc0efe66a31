import { Navigate, Route, Routes } from "react-router-dom";
import { AuthProvider } from "./auth/AuthContext";
import { Layout } from "./components/Layout";
import { RequireAdmin, RequireAuth } from "./components/RequireAuth";
import { ApiKeysPage } from "./pages/admin/ApiKeysPage";
import { AuditPage } from "./pages/admin/AuditPage";
import { GroupsPage } from "./pages/admin/GroupsPage";
import { UsersPage } from "./pages/admin/UsersPage";
import { LoginPage } from "./pages/login/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SettingsPage } from "./pages/settings/SettingsPage";

export function App() {
  return (
    <AuthProvider>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route
          element={
            <RequireAuth>
              <Layout />
            </RequireAuth>
          }
        >
          <Route index element={<Navigate to="/settings/accounts" replace />} />
          <Route path="/settings" element={<Navigate to="/settings/accounts" replace />} />
          <Route path="/settings/:tab" element={<SettingsPage />} />
          <Route path="/admin/users" element={<RequireAdmin><UsersPage /></RequireAdmin>} />
          <Route path="/admin/groups" element={<RequireAdmin><GroupsPage /></RequireAdmin>} />
          <Route path="/admin/api-keys" element={<ApiKeysPage />} />
          <Route path="/admin/audit" element={<RequireAdmin><AuditPage /></RequireAdmin>} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </AuthProvider>
  );
}
