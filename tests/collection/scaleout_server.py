"""A ``cudly serve`` for the scale-out tests: the real app, its workers and `serve`'s own
supervisor, with one test double — the collector makes a single Cost Explorer call to the
simulator per sweep (account ``SCALE<external id>``), so that 300 sweeps cost milliseconds of
CPU instead of the real SDK's ~100 ms each, while the simulator still logs every sweep and
its in-flight calls per account. Run as ``python -m tests.collection.scaleout_server PORT``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import httpx
import uvicorn

from api.cli import SUPERVISION, supervise_workers, worker_count
from api.config import Settings, get_settings
from api.enums import Provider
from api.main import create_app
from api.providers.base import AccountAuth, ProviderError, SweepResult
from api.providers.clients import ProviderClients
from api.service_config.merge import EffectiveServiceConfig

CE_TARGET = "AWSInsightsIndexService.GetReservationPurchaseRecommendation"
_http: httpx.AsyncClient | None = None


def access_key_for(external_id: str) -> str:
    """The key the simulator maps to the account (``CollectSim.aws_key``)."""
    return f"SCALE{external_id}"


class OneCallCollector:
    async def collect(
        self,
        auth: AccountAuth,
        config: Sequence[EffectiveServiceConfig],
        settings: Settings,
        clients: ProviderClients,
    ) -> SweepResult:
        global _http
        if _http is None:
            _http = httpx.AsyncClient(verify=os.environ["CUDLY_CA_BUNDLE"], timeout=60)
        key = access_key_for(auth.account.external_id)
        response = await _http.post(
            os.environ["AWS_ENDPOINT_URL_COST_EXPLORER"] + "/",
            headers={
                "authorization": f"AWS4-HMAC-SHA256 Credential={key}/20261201/us-east-1/ce/aws4_request",
                "x-amz-target": CE_TARGET,
                "content-type": "application/x-amz-json-1.1",
            },
            content=json.dumps({"Service": "Amazon Elastic Compute Cloud - Compute"}),
        )
        if response.status_code != 200:
            raise ProviderError(f"simulator answered {response.status_code}", code="sim")
        return SweepResult(
            recommendations=[],
            commitments=None,
            warnings=[],
            caller_identity=f"sim:{auth.account.external_id}",
        )


def collector_for(_provider: Provider) -> OneCallCollector:
    return OneCallCollector()


def app_factory() -> Any:
    app = create_app()
    app.state.collector_for = collector_for
    return app


def main(port: int) -> None:
    settings = get_settings()
    options: dict[str, Any] = {
        "factory": True,
        "host": "127.0.0.1",
        "port": port,
        "access_log": False,
        "log_config": None,
    }
    count = worker_count(None, settings)
    target = "tests.collection.scaleout_server:app_factory"
    if count == 1:
        uvicorn.run(target, **options)
    else:
        supervise_workers(uvicorn.Config(target, workers=count, **options, **SUPERVISION), settings)


if __name__ == "__main__":
    main(int(sys.argv[1]))
