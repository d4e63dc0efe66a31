"""The include/exclude filters of an effective service config, applied the same way by
every collector: an empty include list allows everything, exclude always wins, and values
compare case-insensitively (``us-east-1`` = ``US-EAST-1``, ``PostgreSQL`` = ``postgresql``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from api.enums import Provider
from api.providers.base import RecommendationData
from api.service_config.merge import EffectiveServiceConfig


def _allowed(value: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    lowered = value.lower()
    includes = {v.lower() for v in include}
    if includes and lowered not in includes:
        return False
    return lowered not in {v.lower() for v in exclude}


def allows(config: EffectiveServiceConfig, item: RecommendationData) -> bool:
    """Whether ``item`` passes the config's region, type and engine filters."""
    return (
        _allowed(item.region, config.include_regions.value, config.exclude_regions.value)
        and _allowed(item.resource_type, config.include_types.value, config.exclude_types.value)
        and (
            not item.engine
            or _allowed(item.engine, config.include_engines.value, config.exclude_engines.value)
        )
    )


def region_allowed(config: EffectiveServiceConfig, region: str) -> bool:
    return _allowed(region, config.include_regions.value, config.exclude_regions.value)


def enabled_services(
    configs: Sequence[EffectiveServiceConfig], provider: Provider
) -> dict[str, EffectiveServiceConfig]:
    """The provider's enabled services, by name."""
    return {c.service: c for c in configs if c.provider == provider and c.enabled.value}
