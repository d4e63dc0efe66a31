"""Provider → implementation, one entry per provider and capability."""

from __future__ import annotations

from api.enums import Provider
from api.providers.base import ConnectivityTester, Discoverer


def connectivity_tester(provider: Provider) -> ConnectivityTester:
    """The connectivity tester for ``provider`` (SDKs are imported on first use)."""
    if provider is Provider.aws:
        from api.providers.aws.client import AwsProvider

        return AwsProvider()
    if provider is Provider.azure:
        from api.providers.azure.client import AzureProvider

        return AzureProvider()
    if provider is Provider.gcp:
        from api.providers.gcp.client import GcpProvider

        return GcpProvider()
    raise ValueError(f"unknown provider {provider!r}")


def discoverer(provider: Provider) -> Discoverer:
    """The member discovery for ``provider``."""
    if provider is Provider.aws:
        from api.providers.aws.discovery import AwsDiscoverer

        return AwsDiscoverer()
    if provider is Provider.azure:
        from api.providers.azure.discovery import AzureDiscoverer

        return AzureDiscoverer()
    if provider is Provider.gcp:
        from api.providers.gcp.discovery import GcpDiscoverer

        return GcpDiscoverer()
    raise ValueError(f"unknown provider {provider!r}")
