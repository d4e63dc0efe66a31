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
import { CommitmentsPage } from "./pages/commitments/CommitmentsPage";
import { DashboardPage } from "./pages/dashboard/DashboardPage";
import { ExecutionsPage } from "./pages/executions/ExecutionsPage";
import { HistoryPage } from "./pages/history/HistoryPage";
import { PlansPage } from "./pages/plans/PlansPage";
import { RecommendationsPage } from "./pages/recommendations/RecommendationsPage";
import { HomeRedirect } from "./components/HomeRedirect";

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
          <Route index element={<HomeRedirect />} />
          <Route path="/dashboard" element={<DashboardPage />} />
          <Route path="/recommendations" element={<RecommendationsPage />} />
          <Route path="/plans" element={<PlansPage />} />
          <Route path="/executions" element={<ExecutionsPage />} />
          <Route path="/history" element={<HistoryPage />} />
          <Route path="/commitments" element={<CommitmentsPage />} />
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
