"""Provider → implementation: one lookup table per capability.

Entries name ``module:Class`` so a cloud's SDK is imported on first use only. Adding a
provider or a capability is one table row, never another ``if`` branch.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from api.enums import Provider
from api.providers.base import Collector, ConnectivityTester, Discoverer, Purchaser

CONNECTIVITY_TESTERS: dict[Provider, str] = {
    Provider.aws: "api.providers.aws.client:AwsProvider",
    Provider.azure: "api.providers.azure.client:AzureProvider",
    Provider.gcp: "api.providers.gcp.client:GcpProvider",
}
DISCOVERERS: dict[Provider, str] = {
    Provider.aws: "api.providers.aws.discovery:AwsDiscoverer",
    Provider.azure: "api.providers.azure.discovery:AzureDiscoverer",
    Provider.gcp: "api.providers.gcp.discovery:GcpDiscoverer",
}
COLLECTORS: dict[Provider, str] = {
    Provider.aws: "api.providers.aws.collector:AwsCollector",
    Provider.azure: "api.providers.azure.collector:AzureCollector",
    Provider.gcp: "api.providers.gcp.collector:GcpCollector",
}
PURCHASERS: dict[Provider, str] = {
    Provider.aws: "api.providers.aws.purchase:AwsPurchaser",
    Provider.azure: "api.providers.azure.purchase:AzurePurchaser",
    Provider.gcp: "api.providers.gcp.purchase:GcpPurchaser",
}


def _build(table: dict[Provider, str], provider: Provider, capability: str) -> Any:
    target = table.get(Provider(provider))
    if target is None:
        raise ValueError(f"no {capability} for provider {provider!r}")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def connectivity_tester(provider: Provider) -> ConnectivityTester:
    """The connectivity tester for ``provider``."""
    return cast(ConnectivityTester, _build(CONNECTIVITY_TESTERS, provider, "connectivity tester"))


def discoverer(provider: Provider) -> Discoverer:
    """The member discovery for ``provider``."""
    return cast(Discoverer, _build(DISCOVERERS, provider, "discoverer"))


def collector(provider: Provider) -> Collector:
    """The recommendations + inventory collector for ``provider``."""
    return cast(Collector, _build(COLLECTORS, provider, "collector"))


def purchaser(provider: Provider) -> Purchaser:
    """The purchaser (offerings, purchase, reconcile) for ``provider``."""
    return cast(Purchaser, _build(PURCHASERS, provider, "purchaser"))
