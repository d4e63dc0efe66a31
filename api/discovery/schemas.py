"""Organisation discovery request and response (SPEC §3 ``discover-org``)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


class DiscoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_root_account_id: uuid.UUID


class DiscoveredAccountOut(BaseModel):
    name: str
    external_id: str
    created: bool
    id: uuid.UUID | None = None


class IgnoredAccountOut(BaseModel):
    name: str
    external_id: str
    reason: str


class DiscoverOut(BaseModel):
    discovered: int
    created: int
    skipped: int
    accounts: list[DiscoveredAccountOut]
    ignored: list[IgnoredAccountOut]
