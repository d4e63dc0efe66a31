"""GET /api/accounts latency as the number of accounts grows, against GET /api/health.

The list computes credentials_configured and the last collection per account inside one
query; this shows how that query scales. Everything is measured in the same run, on an
embedded PostgreSQL in a temporary directory, through the real app (httpx + ASGI).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from api.auth.tokens import hash_token, new_session_token
from api.config import Settings
from api.kit.embedded_db import start_embedded_postgres
from api.main import create_app
from api.migrate import upgrade_async
from api.models import (
    AccountCredential,
    CloudAccount,
    CollectionRun,
    CollectionRunAccount,
    Session,
    User,
)

SIZES = (10, 100, 1000)
TMPFS = "/dev/shm" if Path("/dev/shm").is_dir() else None
ROUNDS = 30


async def _median_ms(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
    for _ in range(3):  # warm-up
        await client.get(path, headers=headers)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(samples)


async def _seed(app: object, count: int, run_id: uuid.UUID) -> None:
    async with app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        accounts = [
            CloudAccount(
                name=f"acct {i:05d}",
                provider="aws",
                external_id=f"{uuid.uuid4().int % 10**12:012d}",
                aws_auth_mode="access_keys",
            )
            for i in range(count)
        ]
        db.add_all(accounts)
        await db.flush()
        db.add_all(
            AccountCredential(
                cloud_account_id=a.id, credential_type="aws_access_keys", key_id="k", blob="x"
            )
            for a in accounts[::2]
        )
        db.add_all(
            CollectionRunAccount(
                run_id=run_id,
                cloud_account_id=a.id,
                account_name=a.name,
                account_external_id=a.external_id,
                provider="aws",
                status="ok",
                finished_at=None,
            )
            for a in accounts
        )
        await db.commit()


async def run() -> list[tuple[int, float, float]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="cudly-bench-", dir=TMPFS) as tmp:
        url = start_embedded_postgres(Path(tmp), cleanup="delete")
        await upgrade_async(url)
        settings = Settings.model_validate(
            {
                "database_url": url,
                "run_migrations": False,
                "credential_encryption_key": "ab" * 32,
                "log_level": "WARNING",
            }
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            token = new_session_token()
            async with app.state.sessionmaker() as db:
                user = User(email="bench@example.com", password_hash="x", role="admin")
                db.add(user)
                await db.flush()
                db.add(
                    Session(
                        user_id=user.id,
                        token_hash=hash_token(token),
                        expires_at=datetime(2999, 1, 1, tzinfo=UTC),
                    )
                )
                run_row = CollectionRun(trigger="manual", status="completed")
                db.add(run_row)
                await db.commit()
                run_id = run_row.id
            headers = {"Authorization": f"Bearer {token}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                seeded = 0
                for size in SIZES:
                    await _seed(app, size - seeded, run_id)
                    seeded = size
                    baseline = await _median_ms(client, "/api/health", headers)
                    listing = await _median_ms(client, "/api/accounts", headers)
                    results.append((size, baseline, listing))
    return results


def main() -> None:
    results = asyncio.run(run())
    print(
        f"{'accounts':>8} {'health ms':>10} {'list ms':>9} {'list/health':>12} {'ms/100 accts':>13}"
    )
    for size, baseline, listing in results:
        print(
            f"{size:>8} {baseline:>10.2f} {listing:>9.2f} {listing / baseline:>12.1f} {listing / size * 100:>13.2f}"
        )


if __name__ == "__main__":
    main()
