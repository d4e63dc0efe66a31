# syntax=docker/dockerfile:1
# CUDly: the API server together with the built SPA.
#   docker build -t cudly .
#   docker run -e DATABASE_URL=... -e CREDENTIAL_ENCRYPTION_KEY=... -e CUDLY_ENV=production -p 8080:8080 cudly
# Nothing secret is baked in: all configuration comes from the environment at run time
# (see .env.example and docs/operations.md). `cudly serve` migrates on start unless
# CUDLY_RUN_MIGRATIONS=false; `docker run ... cudly migrate` runs the migrations alone.

ARG NODE_IMAGE=node:22-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- 1. the SPA: frontend/ -> frontend/dist ---------------------------------------------------
FROM ${NODE_IMAGE} AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- 2. the Python package and its dependencies, in a virtualenv -----------------------------
FROM ${PYTHON_IMAGE} AS python-build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
COPY api/ ./api/
RUN pip install .
# api/migrate.py looks for the Alembic scripts in "<directory holding the api package>/migrations",
# so they are installed beside the package in site-packages.
COPY migrations/ ./migrations/
RUN cp -r migrations "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/migrations"

# --- 3. the runtime image -------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 cudly \
 && useradd --system --uid 10001 --gid cudly --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin cudly \
 && mkdir -p /app /var/lib/cudly \
 && chown cudly:cudly /var/lib/cudly
COPY --from=python-build /opt/venv /opt/venv
COPY --from=frontend /src/frontend/dist /app/frontend/dist
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CUDLY_HOST=0.0.0.0 \
    CUDLY_PORT=8080 \
    CUDLY_FRONTEND_DIST=/app/frontend/dist \
    CUDLY_DATA_DIR=/var/lib/cudly \
    CUDLY_LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# 200 from /api/ready: the server is up, the database answers at this build's migration head and
# the credential key ring is loaded (docs/operations.md, Monitoring); urlopen raises on 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/ready' % os.environ.get('CUDLY_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["cudly"]
CMD ["serve"]
