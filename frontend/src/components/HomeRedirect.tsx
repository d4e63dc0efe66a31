import { Navigate } from "react-router-dom";
import { can, useAuth } from "../auth/AuthContext";

/** The dashboard for those who may see it; Settings otherwise. */
export function HomeRedirect() {
  const { me } = useAuth();
  return <Navigate to={can(me, "history", "view") ? "/dashboard" : "/settings/accounts"} replace />;
}
