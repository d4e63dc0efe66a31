"""In-memory Azure (Entra ID + ARM) and GCP (OAuth, STS, IAM credentials, Resource Manager)
simulator speaking the real wire protocols, so the product's real client libraries can be
pointed at it through CUDLY_AZURE_AUTHORITY_HOST / CUDLY_AZURE_MANAGEMENT_URL /
CUDLY_GCP_TOKEN_URI / CUDLY_GCP_API_BASE_CLOUDRESOURCEMANAGER with no test-only code path.

Tests populate a :class:`SimState` directly (it is thread-safe: the server runs in another
thread) and read its request log to count calls.

Trusting the simulator's test CA (``CUDLY_CA_BUNDLE``), verified by tests/cloudsim_tests:

* azure-identity aio (``ClientSecretCredential`` / ``ClientAssertionCredential``): the
  credential passes unknown kwargs to azure-core's ``AioHttpTransport``.
  ``connection_verify=<pem path>`` works but *replaces* the system CAs
  (``ssl.create_default_context(cafile=...)``). To trust the bundle *in addition* to the
  system CAs, build ``ctx = ssl.create_default_context(); ctx.load_verify_locations(pem)``
  and pass ``transport=AioHttpTransport(session=aiohttp.ClientSession(
  connector=aiohttp.TCPConnector(ssl=ctx)), session_owner=True)`` - with the default
  ``connection_verify=True`` azure-core leaves the connector's context alone.
  The authority must be ``https://host:port`` (``authority=`` kwarg); the aio credential
  sends just the token POST (no instance discovery, no openid-configuration).
* httpx (ARM / Google REST calls): ``httpx.AsyncClient(verify=ctx)`` with the same context.
* google-auth: ``google.auth.transport.requests.Request(session)`` where the session has
  ``session.mount("https://", adapter)`` with an ``HTTPAdapter`` whose ``init_poolmanager``
  passes ``ssl_context=ctx`` (the context above). Do NOT rely on ``session.verify = <pem>``:
  a ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` env var (set on this machine!) silently wins
  over it (psf/requests#3829). Any custom ``google.auth.transport.Request`` (e.g. over
  ``httpx.Client(verify=ctx)``) works too; refresh is sync, so run it in a thread. Plain ``http://`` token URIs work too. The JWT ``aud`` is always
  ``https://oauth2.googleapis.com/token``, whatever ``token_uri`` is, so it is not checked
  against our own URL.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: Form fields safe to log (secrets and assertions are never stored in the log).
_LOGGED_FORM_FIELDS = (
    "grant_type",
    "client_id",
    "scope",
    "client_assertion_type",
    "audience",
    "subject_token_type",
    "requested_token_type",
)
_LOGGED_HEADERS = ("user-agent", "content-type", "x-ms-client-request-id")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
CLIENT_ASSERTION_JWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class RequestRecord:
    """One logged request: enough to count and inspect calls, no secrets."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    status: int = 0
    peer: str | None = None  # the client's host:port: one per connection it opened
    principal: str | None = None


@dataclass
class Subscription:
    subscription_id: str
    tenant_id: str
    display_name: str
    state: str = "Enabled"
    granted: set[str] = field(default_factory=set)  # client ids


@dataclass
class Project:
    project_id: str
    number: str
    display_name: str
    parent: str  # "organizations/123" or "folders/456"
    state: str = "ACTIVE"
    granted: set[str] = field(default_factory=set)  # principals (service-account emails)


@dataclass
class Token:
    principal: str  # Azure: client id; GCP: service-account email or federated principal
    tenant: str | None
    expires_at: float


@dataclass
class _Injection:
    pattern: str
    status: int
    remaining: int
    headers: dict[str, str]
    body: Any


class SimState:
    """All simulator state. Mutate through the methods; every one takes the lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything (tests call this between cases)."""
        with self._lock:
            self.tenants: set[str] = set()
            self.azure_clients: dict[tuple[str, str], str | None] = {}  # (tenant, id) -> secret
            self.azure_assertions: dict[tuple[str, str], set[str]] = {}
            self.subscriptions: dict[str, Subscription] = {}
            self.gcp_keys: dict[str, tuple[rsa.RSAPublicKey, str | None]] = {}  # email -> key, kid
            self.gcp_subject_tokens: dict[str, str] = {}  # subject token -> principal
            self.gcp_impersonation: set[tuple[str, str]] = set()  # (principal, sa email)
            self.projects: dict[str, Project] = {}
            self.tokens: dict[str, Token] = {}
            self.log: list[RequestRecord] = []
            self.injections: list[_Injection] = []
            self.token_lifetime = 3600
            self.arm_page_size = 100
            self.gcp_page_size = 100
            # Collection APIs (tests/cloudsim/collect.py): recommendations, inventories, faults.
            from .collect import CollectSim

            if getattr(self, "collect", None) is None:
                self.collect = CollectSim()
            self.collect.reset()

    # --- Azure ---------------------------------------------------------------------------
    def add_azure_client(self, tenant: str, client_id: str, secret: str | None = None) -> None:
        """Register a service principal (and its tenant) with an optional client secret."""
        with self._lock:
            self.tenants.add(tenant)
            self.azure_clients[(tenant, client_id)] = secret

    def add_azure_assertion(self, tenant: str, client_id: str, assertion: str) -> None:
        """Accept ``assertion`` as a federated client assertion (workload identity)."""
        with self._lock:
            self.tenants.add(tenant)
            self.azure_clients.setdefault((tenant, client_id), None)
            self.azure_assertions.setdefault((tenant, client_id), set()).add(assertion)

    def add_subscription(
        self,
        subscription_id: str,
        tenant: str,
        display_name: str = "",
        state: str = "Enabled",
        granted_to: list[str] | None = None,
    ) -> None:
        with self._lock:
            self.tenants.add(tenant)
            self.subscriptions[subscription_id] = Subscription(
                subscription_id,
                tenant,
                display_name or subscription_id,
                state,
                set(granted_to or []),
            )

    def grant_subscription(self, subscription_id: str, client_id: str) -> None:
        with self._lock:
            self.subscriptions[subscription_id].granted.add(client_id)

    # --- GCP -----------------------------------------------------------------------------
    def add_gcp_service_account(
        self, email: str, public_key: rsa.RSAPublicKey | bytes, key_id: str | None = None
    ) -> None:
        """Register the public half of a service-account key (PEM bytes or key object)."""
        if isinstance(public_key, bytes):
            loaded = serialization.load_pem_public_key(public_key)
            assert isinstance(loaded, rsa.RSAPublicKey)
            public_key = loaded
        with self._lock:
            self.gcp_keys[email] = (public_key, key_id)

    def add_gcp_subject_token(self, subject_token: str, principal: str) -> None:
        """Accept ``subject_token`` at STS, yielding a token acting as ``principal``."""
        with self._lock:
            self.gcp_subject_tokens[subject_token] = principal

    def allow_gcp_impersonation(self, principal: str, service_account: str) -> None:
        with self._lock:
            self.gcp_impersonation.add((principal, service_account))

    def add_project(
        self,
        project_id: str,
        number: str,
        display_name: str = "",
        parent: str = "organizations/1",
        state: str = "ACTIVE",
        granted_to: list[str] | None = None,
    ) -> None:
        with self._lock:
            self.projects[project_id] = Project(
                project_id, number, display_name or project_id, parent, state, set(granted_to or [])
            )

    def grant_project(self, project_id: str, principal: str) -> None:
        with self._lock:
            self.projects[project_id].granted.add(principal)

    # --- tokens, faults, log ---------------------------------------------------------------
    def issue_token(self, principal: str, tenant: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = Token(principal, tenant, time.time() + self.token_lifetime)
        return token

    def lookup_token(self, token: str) -> Token | None:
        with self._lock:
            t = self.tokens.get(token)
        return t if t is not None and t.expires_at > time.time() else None

    def expire_tokens(self) -> None:
        """Make every issued token invalid (tests of token refresh)."""
        with self._lock:
            for t in self.tokens.values():
                t.expires_at = 0

    def inject_error(
        self,
        path_glob: str,
        status: int,
        body: Any = None,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``count`` requests whose path matches ``path_glob`` (fnmatch) fail."""
        with self._lock:
            self.injections.append(_Injection(path_glob, status, count, headers or {}, body))

    def inject_throttle(self, path_glob: str, count: int = 1, retry_after: int = 1) -> None:
        """The next ``count`` matching requests get 429 + ``Retry-After`` in the cloud's shape."""
        self.inject_error(path_glob, 429, None, count, {"Retry-After": str(retry_after)})

    def _take_injection(self, path: str) -> _Injection | None:
        with self._lock:
            for inj in self.injections:
                if inj.remaining > 0 and fnmatch.fnmatchcase(path, inj.pattern):
                    inj.remaining -= 1
                    return inj
        return None

    def calls(self, method: str | None = None, path_glob: str = "*") -> list[RequestRecord]:
        """Logged requests, optionally filtered by method and path glob."""
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method) and fnmatch.fnmatchcase(r.path, path_glob)
            ]

    def count(self, method: str | None = None, path_glob: str = "*") -> int:
        return len(self.calls(method, path_glob))


# --- helpers ---------------------------------------------------------------------------------


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _aad_error(status: int, error: str, code: int, text: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": secrets.token_hex(8),
        },
        status,
    )


def _arm_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _google_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        },
        status,
    )


def _is_arm(path: str) -> bool:
    return path.startswith(("/subscriptions", "/providers"))


def _injected_response(inj: _Injection, path: str) -> Response:
    if inj.body is not None:
        resp: Response = JSONResponse(inj.body, inj.status)
    elif _is_arm(path):
        resp = _arm_error(
            inj.status,
            "TooManyRequests" if inj.status == 429 else "Injected",
            "injected by cloudsim",
        )
    else:
        resp = _google_error(inj.status, "injected by cloudsim")
    resp.headers.update(inj.headers)
    return resp


Handler = Callable[[Request, "SimState", dict[str, str]], Awaitable[Response]]


def _endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with request logging, form parsing and fault injection."""

    async def wrapper(request: Request) -> Response:
        state: SimState = request.app.state.sim
        form: dict[str, str] = {}
        if request.method == "POST":
            body = (await request.body()).decode()
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        rec = RequestRecord(
            request.method,
            request.url.path,
            dict(request.query_params),
            {h: request.headers[h] for h in _LOGGED_HEADERS if h in request.headers},
            {k: form[k] for k in _LOGGED_FORM_FIELDS if k in form},
            peer=f"{request.client.host}:{request.client.port}" if request.client else None,
        )
        with state._lock:
            state.log.append(rec)
        inj = state._take_injection(request.url.path)
        resp = _injected_response(inj, request.url.path) if inj else await fn(request, state, form)
        rec.status = resp.status_code
        return resp

    return wrapper


def _bearer(request: Request, state: SimState) -> Token | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return state.lookup_token(value.strip()) if scheme.lower() == "bearer" else None


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    """Slice one page; page tokens are opaque base64 offsets."""
    start = int(_b64d(token).decode()) if token else 0
    end = start + size
    nxt = (
        base64.urlsafe_b64encode(str(end).encode()).decode().rstrip("=")
        if end < len(items)
        else None
    )
    return items[start:end], nxt


# --- Entra ID ---------------------------------------------------------------------------------


@_endpoint
async def entra_token(request: Request, state: SimState, form: dict[str, str]) -> Response:
    tenant = request.path_params["tenant"]
    if tenant not in state.tenants:
        return _aad_error(
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID.",
        )
    if form.get("grant_type") != "client_credentials":
        return _aad_error(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    client_id = form.get("client_id", "")
    with state._lock:
        known = (tenant, client_id) in state.azure_clients
        secret = state.azure_clients.get((tenant, client_id))
        assertions = set(state.azure_assertions.get((tenant, client_id), set()))
    bad_secret = f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
    if (
        not known
    ):  # real Entra says 400 unauthorized_client AADSTS700016; same exception client-side
        return _aad_error(401, "invalid_client", 7000215, bad_secret)
    if "client_assertion" in form:
        if (
            form.get("client_assertion_type") != CLIENT_ASSERTION_JWT
            or form["client_assertion"] not in assertions
        ):
            return _aad_error(
                401,
                "invalid_client",
                700213,
                "No matching federated identity record found for presented assertion.",
            )
    elif secret is None or not secrets.compare_digest(form.get("client_secret", ""), secret):
        return _aad_error(401, "invalid_client", 7000215, bad_secret)
    token = state.issue_token(client_id, tenant)
    return JSONResponse(
        {
            "token_type": "Bearer",
            "expires_in": state.token_lifetime,
            "ext_expires_in": state.token_lifetime,
            "access_token": token,
        }
    )


@_endpoint
async def entra_openid(request: Request, state: SimState, form: dict[str, str]) -> Response:
    base = str(request.base_url).rstrip("/")
    tenant = request.path_params["tenant"]
    return JSONResponse(
        {
            "issuer": f"{base}/{tenant}/v2.0",
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "token"],
            "tenant_region_scope": "NA",
        }
    )


@_endpoint
async def entra_instance(request: Request, state: SimState, form: dict[str, str]) -> Response:
    host = request.url.netloc
    return JSONResponse(
        {
            "tenant_discovery_endpoint": f"{str(request.base_url).rstrip('/')}/common/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


# --- ARM --------------------------------------------------------------------------------------


def _sub_json(s: Subscription) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{s.subscription_id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.subscription_id,
        "tenantId": s.tenant_id,
        "displayName": s.display_name,
        "state": s.state,
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def _arm_auth(request: Request, state: SimState) -> Token | Response:
    if "api-version" not in request.query_params:
        return _arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    tok = _bearer(request, state)
    if tok is None:
        return _arm_error(
            401, "InvalidAuthenticationToken", "The access token is invalid, expired or missing."
        )
    return tok


@_endpoint
async def arm_subscription(request: Request, state: SimState, form: dict[str, str]) -> Response:
    tok = _arm_auth(request, state)
    if isinstance(tok, Response):
        return tok
    sub_id = request.path_params["sub_id"]
    with state._lock:
        sub = state.subscriptions.get(sub_id)
    if sub is None:
        return _arm_error(
            404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found."
        )
    if sub.tenant_id != tok.tenant:
        return _arm_error(
            401,
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer. It must match the tenant associated with subscription '{sub_id}'.",
        )
    if tok.principal not in sub.granted:
        return _arm_error(
            403,
            "AuthorizationFailed",
            f"The client '{tok.principal}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/read' over scope '/subscriptions/{sub_id}' or the scope is invalid.",
        )
    return JSONResponse(_sub_json(sub))


@_endpoint
async def arm_subscriptions(request: Request, state: SimState, form: dict[str, str]) -> Response:
    tok = _arm_auth(request, state)
    if isinstance(tok, Response):
        return tok
    with state._lock:
        subs = [
            _sub_json(s)
            for s in sorted(state.subscriptions.values(), key=lambda s: s.subscription_id)
            if s.tenant_id == tok.tenant and tok.principal in s.granted
        ]
        size = state.arm_page_size
    page, nxt = _page(subs, request.query_params.get("$skiptoken"), size)
    body: dict[str, Any] = {"value": page}
    if nxt:
        api = quote(request.query_params["api-version"])
        body["nextLink"] = (
            f"{str(request.base_url).rstrip('/')}/subscriptions?api-version={api}&$skiptoken={nxt}"
        )
    return JSONResponse(body)


# --- GCP tokens -------------------------------------------------------------------------------


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, 400)


def _verify_jwt(assertion: str, state: SimState) -> str | None:
    """Return the service-account email if ``assertion`` is a valid RS256 grant JWT."""
    try:
        h64, p64, s64 = assertion.split(".")
        header, claims = json.loads(_b64d(h64)), json.loads(_b64d(p64))
        with state._lock:
            key, kid = state.gcp_keys[claims["iss"]]
        if header.get("alg") != "RS256" or (kid and header.get("kid") not in (None, kid)):
            return None
        key.verify(_b64d(s64), f"{h64}.{p64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        if not claims["iat"] - 300 <= time.time() <= claims["exp"] + 300:
            return None
        return str(claims["iss"])
    except (ValueError, KeyError, TypeError, InvalidSignature):
        return None


@_endpoint
async def gcp_token(request: Request, state: SimState, form: dict[str, str]) -> Response:
    grant = form.get("grant_type")
    if grant == JWT_BEARER:
        email = _verify_jwt(form.get("assertion", ""), state)
        if email is None:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        return JSONResponse(
            {
                "access_token": state.issue_token(email),
                "expires_in": state.token_lifetime,
                "token_type": "Bearer",
            }
        )
    if grant == TOKEN_EXCHANGE:
        with state._lock:
            principal = state.gcp_subject_tokens.get(form.get("subject_token", ""))
        if principal is None:
            return _oauth_error("invalid_grant", "The provided subject token is invalid.")
        return JSONResponse(
            {
                "access_token": state.issue_token(principal),
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": state.token_lifetime,
            }
        )
    return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")


@_endpoint
async def gcp_generate_access_token(
    request: Request, state: SimState, form: dict[str, str]
) -> Response:
    """IAM credentials ``generateAccessToken`` (WIF with service-account impersonation)."""
    tok = _bearer(request, state)
    if tok is None:
        return _google_error(401, "Request had invalid authentication credentials.")
    email = request.path_params["email"]
    with state._lock:
        allowed = tok.principal == email or (tok.principal, email) in state.gcp_impersonation
    if not allowed:
        return _google_error(
            403,
            "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
        )
    expire = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + state.token_lifetime))
    return JSONResponse({"accessToken": state.issue_token(email), "expireTime": expire})


# --- Cloud Resource Manager -------------------------------------------------------------------


def _proj_v3(p: Project) -> dict[str, Any]:
    return {
        "name": f"projects/{p.number}",
        "parent": p.parent,
        "projectId": p.project_id,
        "state": p.state,
        "displayName": p.display_name,
        "etag": f'W/"{p.number}"',
    }


def _proj_v1(p: Project) -> dict[str, Any]:
    ptype, _, pid = p.parent.partition("/")
    return {
        "projectNumber": p.number,
        "projectId": p.project_id,
        "lifecycleState": p.state,
        "name": p.display_name,
        "parent": {"type": ptype.rstrip("s"), "id": pid},
    }


def _gcp_auth(request: Request, state: SimState) -> Token | Response:
    tok = _bearer(request, state)
    if tok is None:
        return _google_error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )
    return tok


@_endpoint
async def crm_project(request: Request, state: SimState, form: dict[str, str]) -> Response:
    tok = _gcp_auth(request, state)
    if isinstance(tok, Response):
        return tok
    pid = request.path_params["project_id"]
    with state._lock:
        proj = state.projects.get(pid)
    if proj is None:
        return _google_error(404, f"Project '{pid}' not found.")
    if tok.principal not in proj.granted:
        return _google_error(
            403,
            f"Permission 'resourcemanager.projects.get' denied on resource '//cloudresourcemanager.googleapis.com/projects/{pid}' (or it may not exist).",
        )
    return JSONResponse(_proj_v3(proj))


def _visible_projects(
    state: SimState, tok: Token, parent: str | None, lifecycle: str | None
) -> list[Project]:
    with state._lock:
        return [
            p
            for _, p in sorted(state.projects.items())
            if tok.principal in p.granted
            and (parent is None or p.parent == parent)
            and (lifecycle is None or p.state == lifecycle)
        ]


@_endpoint
async def crm_search(request: Request, state: SimState, form: dict[str, str]) -> Response:
    """v3 ``projects:search``: supports ``parent:<x>`` and ``state:<y>`` query terms."""
    tok = _gcp_auth(request, state)
    if isinstance(tok, Response):
        return tok
    terms = dict(t.split(":", 1) for t in request.query_params.get("query", "").split() if ":" in t)
    projs = _visible_projects(state, tok, terms.get("parent"), terms.get("state"))
    size = int(request.query_params.get("pageSize") or state.gcp_page_size)
    page, nxt = _page(
        [_proj_v3(p) for p in projs],
        request.query_params.get("pageToken"),
        min(size, state.gcp_page_size),
    )
    return JSONResponse({"projects": page, **({"nextPageToken": nxt} if nxt else {})})


@_endpoint
async def crm_v1_list(request: Request, state: SimState, form: dict[str, str]) -> Response:
    """v1 ``projects.list``: supports ``parent.type:``, ``parent.id:``, ``lifecycleState:``."""
    tok = _gcp_auth(request, state)
    if isinstance(tok, Response):
        return tok
    terms = dict(
        t.split(":", 1) for t in request.query_params.get("filter", "").split() if ":" in t
    )
    parent = (
        f"{terms['parent.type']}s/{terms['parent.id']}"
        if "parent.type" in terms and "parent.id" in terms
        else None
    )
    projs = _visible_projects(state, tok, parent, terms.get("lifecycleState"))
    size = int(request.query_params.get("pageSize") or state.gcp_page_size)
    page, nxt = _page(
        [_proj_v1(p) for p in projs],
        request.query_params.get("pageToken"),
        min(size, state.gcp_page_size),
    )
    return JSONResponse({"projects": page, **({"nextPageToken": nxt} if nxt else {})})


def create_app(state: SimState | None = None) -> Starlette:
    """Build the ASGI app; ``app.state.sim`` is the :class:`SimState` it serves."""
    from .azure_purchases import routes as azure_purchase_routes
    from .collect import routes as collect_routes
    from .gcp_purchases import routes as gcp_purchase_routes

    app = Starlette(
        routes=[
            *collect_routes(),
            *gcp_purchase_routes(),
            *azure_purchase_routes(),
            Route("/token", gcp_token, methods=["POST"]),
            Route("/v1/token", gcp_token, methods=["POST"]),  # sts.googleapis.com/v1/token
            Route(
                "/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
                gcp_generate_access_token,
                methods=["POST"],
            ),
            Route("/v3/projects:search", crm_search, methods=["GET"]),
            Route("/v3/projects/{project_id}", crm_project, methods=["GET"]),
            Route("/v1/projects", crm_v1_list, methods=["GET"]),
            Route("/subscriptions", arm_subscriptions, methods=["GET"]),
            Route("/subscriptions/{sub_id}", arm_subscription, methods=["GET"]),
            Route("/common/discovery/instance", entra_instance, methods=["GET"]),
            Route("/{tenant}/v2.0/.well-known/openid-configuration", entra_openid, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/token", entra_token, methods=["POST"]),
        ]
    )
    app.state.sim = state or SimState()
    return app
