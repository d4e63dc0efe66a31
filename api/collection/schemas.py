"""Request and response models of collection runs (SPEC §5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.enums import RunAccountStatus, RunStatus, RunTrigger
from api.kit.account_ids import MAX_ACCOUNT_IDS


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_ids: Annotated[list[uuid.UUID], Field(max_length=MAX_ACCOUNT_IDS)] | None = Field(
        default=None, description="Only these accounts; absent or empty = every account"
    )


class RefreshOut(BaseModel):
    run_id: uuid.UUID
    status: RunStatus
    created: bool = Field(description="false when a run was already in progress and is returned")


class RunAccountOut(BaseModel):
    """One account's row in a run (also the data of an SSE ``account`` event)."""

    model_config = ConfigDict(from_attributes=True)

    cloud_account_id: uuid.UUID | None
    account_name: str
    account_external_id: str
    provider: str
    status: RunAccountStatus
    error: str | None
    warnings: list[str]
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    recommendation_count: int
    commitment_count: int


class RunSummaryOut(BaseModel):
    """A run without its accounts (list items, and the data of the SSE ``run`` event)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: RunStatus
    trigger: RunTrigger
    started_at: datetime
    finished_at: datetime | None
    accounts_total: int
    accounts_ok: int
    accounts_failed: int
    recommendation_count: int
    error: str | None


class RunOut(RunSummaryOut):
    accounts: list[RunAccountOut]


class RunList(BaseModel):
    runs: list[RunSummaryOut]
