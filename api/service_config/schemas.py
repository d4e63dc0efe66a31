"""Request and response models for global service defaults, overrides and effective config.

Wire conventions (documented for clients):

- ``coverage`` is a percentage 0–100 with at most two decimal places. Requests may send a JSON
  number or a numeric string; responses always send a JSON number (``80``, ``62.5``).
- ``term`` is the integer 1 or 3 (years); ``enabled`` a JSON boolean (no ``"true"``/``1``).
- List fields hold at most 200 distinct values, each 1–128 characters of letters, digits,
  space and ``. _ : / ( ) + * -`` (no leading or trailing space); duplicates are dropped,
  first occurrence kept.
- ``ramp_schedule`` is ``null`` or ``{"steps": [{"after_days": int, "coverage": 0–100}, …]}``
  with at most 24 steps, ``after_days`` 0–3650 and strictly increasing. ``{"steps": []}``
  means "no ramp" (and, in an override, "no ramp even if the global default has one").
- Unknown fields are rejected (400 naming them). ``provider``/``service`` may be sent in a
  body (so a fetched object can be sent back) but must equal the path; ``updated_at`` is
  read-only and ignored.
"""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from api.enums import ConfigSource, Payment, Provider
from api.enums import Term as TermYears
from api.service_config.merge import LIST_FIELDS

MAX_LIST_ITEMS = 200
MAX_RAMP_STEPS = 24
MAX_RAMP_DAYS = 3650
LABEL_PATTERN = r"^[A-Za-z0-9._:/()+*-](?:[A-Za-z0-9 ._:/()+*-]{0,126}[A-Za-z0-9._:/()+*-])?$"
COVERAGE_STRING_PATTERN = r"^[0-9]{1,3}(\.[0-9]{1,2})?$"
_CENT = Decimal("0.01")
_COVERAGE_STRING = re.compile(COVERAGE_STRING_PATTERN)


def _term(value: Any) -> Any:
    # Literal[1, 3] alone would accept `true` (== 1) and 3.0.
    if isinstance(value, bool) or not isinstance(value, int) or value not in set(TermYears):
        raise ValueError("term must be the integer 1 or 3 (years)")
    return value


def _coverage_input(value: Any) -> Any:
    # Strings are plain decimals only ("62.5"): no exponent, sign, NaN or whitespace.
    if isinstance(value, str) and not _COVERAGE_STRING.fullmatch(value):
        raise ValueError("coverage must be a number from 0 to 100 with at most 2 decimal places")
    return value


def _coverage(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("coverage must be a finite number")
    if value < 0 or value > 100:
        raise ValueError("coverage must be between 0 and 100")
    try:
        quantized = value.quantize(_CENT)
    except InvalidOperation as exc:  # pragma: no cover - range is checked first
        raise ValueError("coverage must be between 0 and 100") from exc
    if quantized != value:
        raise ValueError("coverage may have at most 2 decimal places")
    return quantized


def coverage_json(value: Decimal) -> int | float:
    """A percentage as a JSON number: ``80`` for whole numbers, else ``62.5``."""
    return int(value) if value == value.to_integral_value() else float(value)


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Term = Annotated[
    Literal[1, 3],
    BeforeValidator(_term),
    Field(description="Commitment term in years"),
]
Coverage = Annotated[
    Decimal,
    Field(allow_inf_nan=False, description="Percentage of the recommendation to buy, 0–100"),
    BeforeValidator(_coverage_input),
    AfterValidator(_coverage),
    PlainSerializer(coverage_json, return_type=int | float, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": COVERAGE_STRING_PATTERN},
            ],
            "description": "Percentage 0–100, at most 2 decimal places (number or numeric string)",
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "number", "minimum": 0, "maximum": 100, "description": "Percentage 0–100"},
        mode="serialization",
    ),
]
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=LABEL_PATTERN),
]
LabelList = Annotated[
    list[Label],
    Field(max_length=MAX_LIST_ITEMS),
    AfterValidator(_dedupe),
]


class RampStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after_days: Annotated[int, Field(strict=True, ge=0, le=MAX_RAMP_DAYS)]
    coverage: Coverage


class RampSchedule(BaseModel):
    """Coverage that grows over time: from ``after_days`` on, buy up to ``coverage`` %."""

    model_config = ConfigDict(extra="forbid")

    steps: Annotated[list[RampStep], Field(max_length=MAX_RAMP_STEPS)]

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[RampStep]) -> list[RampStep]:
        days = [step.after_days for step in steps]
        if any(later <= earlier for earlier, later in itertools.pairwise(days)):
            raise ValueError("steps must be ordered by strictly increasing after_days")
        return steps


class _ConfigFields(BaseModel):
    """The configurable fields; ``None`` means "not given" (global) or "inherit" (override)."""

    model_config = ConfigDict(extra="forbid")

    provider: Provider | None = Field(default=None, description="Optional; must match the path")
    service: str | None = Field(
        default=None, max_length=64, description="Optional; must match the path"
    )
    updated_at: datetime | None = Field(default=None, description="Read-only; ignored")
    enabled: StrictBool | None = None
    term: Term | None = None
    payment: Payment | None = None
    coverage: Coverage | None = None
    ramp_schedule: RampSchedule | None = None
    include_regions: LabelList | None = None
    exclude_regions: LabelList | None = None
    include_types: LabelList | None = None
    exclude_types: LabelList | None = None
    include_engines: LabelList | None = None
    exclude_engines: LabelList | None = None


_NOT_NULLABLE_GLOBALS = ("enabled", "term", "payment", "coverage", *LIST_FIELDS)


def _drop_null_branch(schema: dict[str, Any]) -> None:
    for name in _NOT_NULLABLE_GLOBALS:
        prop = schema.get("properties", {}).get(name)
        if prop and "anyOf" in prop:
            branches = [b for b in prop["anyOf"] if b != {"type": "null"}]
            prop.pop("anyOf")
            if len(branches) == 1:
                prop.update(branches[0])
            else:
                prop["anyOf"] = branches
        if prop is not None:
            prop.pop("default", None)


class ServiceConfigUpdate(_ConfigFields):
    """``PUT /api/config/service/{provider}/{service}``: a partial update.

    Every field is optional; an absent field keeps its current value. ``null`` is only
    accepted for ``ramp_schedule`` (no ramp); the other fields always have a value.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_branch)

    @field_validator(*_NOT_NULLABLE_GLOBALS, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: omit the field to keep its value")
        return value


class ServiceOverrideReplace(_ConfigFields):
    """``PUT …/service-overrides/{provider}/{service}``: the whole override (full replace).

    An absent or ``null`` field inherits the global default. ``[]`` overrides a list with
    "nothing" and ``{"steps": []}`` overrides the ramp schedule with "no ramp". A body that
    sets no field at all removes the override (same as ``DELETE``).
    """


class ServiceConfigOut(BaseModel):
    """A global default for one (provider, service)."""

    model_config = ConfigDict(from_attributes=True)

    provider: Provider
    service: str
    enabled: bool
    term: Literal[1, 3]
    payment: Payment
    coverage: Coverage
    ramp_schedule: RampSchedule | None
    include_regions: list[str]
    exclude_regions: list[str]
    include_types: list[str]
    exclude_types: list[str]
    include_engines: list[str]
    exclude_engines: list[str]
    updated_at: datetime


class ServiceConfigList(BaseModel):
    service_configs: list[ServiceConfigOut]


class ServiceOverrideOut(BaseModel):
    """A sparse override: only the fields it sets are present (``[]`` is a set value).

    ``updated_at`` is absent when the override was removed by a PUT that set nothing.
    """

    model_config = ConfigDict(from_attributes=True)

    provider: Provider
    service: str
    enabled: bool | None = None
    term: Literal[1, 3] | None = None
    payment: Payment | None = None
    coverage: Coverage | None = None
    ramp_schedule: RampSchedule | None = None
    include_regions: list[str] | None = None
    exclude_regions: list[str] | None = None
    include_types: list[str] | None = None
    exclude_types: list[str] | None = None
    include_engines: list[str] | None = None
    exclude_engines: list[str] | None = None
    updated_at: datetime | None = None


class ServiceOverrideList(BaseModel):
    overrides: list[ServiceOverrideOut]


class _Effective(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source: ConfigSource = Field(description="`override` when the account's override sets it")


class EffectiveBool(_Effective):
    value: bool


class EffectiveTerm(_Effective):
    value: Literal[1, 3]


class EffectivePayment(_Effective):
    value: Payment


class EffectiveCoverage(_Effective):
    value: Coverage


class EffectiveRampSchedule(_Effective):
    value: RampSchedule | None


class EffectiveList(_Effective):
    value: list[str]


class EffectiveServiceConfigOut(BaseModel):
    """Every field of one service, with its merged value and ``override`` or ``global``."""

    model_config = ConfigDict(from_attributes=True)

    provider: Provider
    service: str
    enabled: EffectiveBool
    term: EffectiveTerm
    payment: EffectivePayment
    coverage: EffectiveCoverage
    ramp_schedule: EffectiveRampSchedule
    include_regions: EffectiveList
    exclude_regions: EffectiveList
    include_types: EffectiveList
    exclude_types: EffectiveList
    include_engines: EffectiveList
    exclude_engines: EffectiveList


class EffectiveConfigOut(BaseModel):
    account_id: uuid.UUID
    services: list[EffectiveServiceConfigOut]
