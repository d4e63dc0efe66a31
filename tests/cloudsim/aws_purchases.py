"""AWS purchase APIs as the real services speak them (``shared/CLOUD_APIS.md`` *Purchases*).

One plain-HTTP app the product reaches through botocore's own ``AWS_ENDPOINT_URL_STS``,
``_EC2``, ``_RDS`` and ``_SAVINGSPLANS``: STS ``GetCallerIdentity`` (access key → account,
unknown key → ``InvalidClientTokenId``), EC2 reserved-instance offerings, purchase, describe
and tags (no idempotency token, as in AWS), RDS reserved DB instances (the caller's
``ReservedDBInstanceId``; a reused id → ``ReservedDBInstanceAlreadyExists``) and Savings Plans
``CreateSavingsPlan`` (same ``clientToken`` → the same plan).

Every purchase is recorded with the account, the signing access key and its token. Failure
injection per account and per resource type; ``hang_after_accept`` records a purchase and
then never answers, so a test can kill the buyer after the cloud accepted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")


@dataclass
class AwsPurchase:
    """One purchase the simulated cloud accepted."""

    service: str  # "ec2" | "rds" | "elasticache" | "memorydb" | "savings-plans"
    account: str
    access_key_id: str
    commitment_id: str
    offering_id: str
    count: str
    token: str | None  # the caller's idempotency token / reservation id (None for EC2)
    resource_type: str
    at: datetime
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class AwsCall:
    action: str
    access_key_id: str
    account: str | None
    params: dict[str, str]


class AwsPurchaseSim:
    """All state; mutate through the methods (they take the lock)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        old = getattr(self, "_release", None)
        if old is not None:
            old.set()  # free handlers still hanging from the previous test
        with self._lock:
            self.keys: dict[str, str] = {}  # access key id -> account id
            self.purchases: list[AwsPurchase] = []
            self.calls: list[AwsCall] = []
            self.failing: dict[tuple[str, str], str] = {}  # (account, resource type|"*") -> code
            self.hang_after_accept = False
            self.purchase_delay_s = 0.0
            self.call_delay_s = 0.0
            self._release = threading.Event()
            self.accepted = threading.Event()

    def release(self) -> None:
        """Let hanging handlers finish (reset does it too) and stop hanging."""
        with self._lock:
            self.hang_after_accept = False
            self._release.set()

    def arm_hang(self) -> None:
        """The next accepted purchase is recorded, then never answered (until released)."""
        with self._lock:
            self._release = threading.Event()
            self.accepted.clear()
            self.hang_after_accept = True

    def add_key(self, account: str, access_key_id: str | None = None) -> str:
        key = access_key_id or f"AKIA{uuid.uuid4().hex[:16].upper()}"
        with self._lock:
            self.keys[key] = account
        return key

    def fail(
        self, account: str, resource_type: str = "*", code: str = "InsufficientCapacity"
    ) -> None:
        """Refuse this account's purchases of ``resource_type`` (``*``: all) with ``code``."""
        with self._lock:
            self.failing[(account, resource_type)] = code

    def purchases_of(self, account: str | None = None) -> list[AwsPurchase]:
        with self._lock:
            return [p for p in self.purchases if account is None or p.account == account]

    def calls_of(self, action: str | None = None) -> list[AwsCall]:
        with self._lock:
            return [c for c in self.calls if action is None or c.action == action]

    def _failure(self, account: str, resource_type: str) -> str | None:
        with self._lock:
            return self.failing.get((account, resource_type)) or self.failing.get((account, "*"))


# --- wire helpers ------------------------------------------------------------------------------


def _request_id() -> str:
    return str(uuid.uuid4())


def _ec2(action: str, body: str) -> Response:
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><{action}Response xmlns="{EC2_NS}">'
        f"<requestId>{_request_id()}</requestId>{body}</{action}Response>"
    )
    return Response(xml, media_type="text/xml")


def _ec2_error(code: str, message: str, status: int = 400) -> Response:
    xml = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"</Error></Errors><RequestID>{_request_id()}</RequestID></Response>"
    )
    return Response(xml, status_code=status, media_type="text/xml")


def _query(action: str, ns: str, body: str) -> Response:
    xml = (
        f'<{action}Response xmlns="{ns}"><{action}Result>{body}</{action}Result>'
        f"<ResponseMetadata><RequestId>{_request_id()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    return Response(xml, media_type="text/xml")


def _query_error(code: str, message: str, status: int) -> Response:
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{_request_id()}</RequestId>"
        "</ErrorResponse>"
    )
    return Response(xml, status_code=status, media_type="text/xml")


def _json_error(code: str, message: str, status: int = 400) -> Response:
    return Response(
        json.dumps({"message": message}),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": code},
    )


def _offering_id(prefix: str, *parts: str) -> str:
    return f"{prefix}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:16]}"


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- the app -----------------------------------------------------------------------------------


def _caller(request: Request, sim: AwsPurchaseSim) -> tuple[str, str | None]:
    match = _CREDENTIAL.search(request.headers.get("authorization", ""))
    key = match.group(1) if match else ""
    with sim._lock:
        return key, sim.keys.get(key)


async def _accept(sim: AwsPurchaseSim, purchase: AwsPurchase) -> None:
    if sim.purchase_delay_s:
        await asyncio.sleep(sim.purchase_delay_s)
    with sim._lock:
        sim.purchases.append(purchase)
        hang = sim.hang_after_accept
        release = sim._release
    sim.accepted.set()
    if hang:
        # Never answer (until released): the buyer is killed after the cloud accepted.
        await asyncio.to_thread(release.wait)


async def _form_endpoint(request: Request) -> Response:
    sim: AwsPurchaseSim = request.app.state.sim
    if request.headers.get("x-amz-target", "").startswith("AmazonMemoryDB."):
        return await _memorydb(request, sim)
    body = (await request.body()).decode()
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    action = form.get("Action", "")
    key, account = _caller(request, sim)
    with sim._lock:
        sim.calls.append(AwsCall(action, key, account, form))
    if sim.call_delay_s:
        await asyncio.sleep(sim.call_delay_s)
    if account is None:
        if action == "GetCallerIdentity":
            return _query_error(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
                403,
            )
        if action in _EC2_ACTIONS:
            return _ec2_error("AuthFailure", "AWS was not able to validate the credentials.", 401)
        return _query_error(
            "InvalidClientTokenId", "The security token included in the request is invalid.", 403
        )
    if action == "GetCallerIdentity":
        return _query(
            "GetCallerIdentity",
            STS_NS,
            f"<Arn>arn:aws:iam::{account}:user/cudly</Arn><UserId>AIDA{account}</UserId>"
            f"<Account>{account}</Account>",
        )
    handler = (
        _EC2_ACTIONS.get(action)
        or _RDS_ACTIONS.get(action)
        or _ELASTICACHE_ACTIONS.get(action)
        or _REDSHIFT_ACTIONS.get(action)
    )
    if handler is None:
        return _query_error("InvalidAction", f"unsupported action {action}", 400)
    return await handler(sim, account, key, form)


# EC2 ------------------------------------------------------------------------------------------


async def _ec2_offerings(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    instance_type = form.get("InstanceType", "m5.large")
    product = form.get("ProductDescription", "Linux/UNIX")
    tenancy = form.get("InstanceTenancy", "default")
    offering_class = form.get("OfferingClass", "standard")
    offering_type = form.get("OfferingType", "No Upfront")
    duration = form.get("MaxDuration") or form.get("MinDuration") or "31536000"
    offering = _offering_id(
        "ri", instance_type, product, tenancy, offering_class, offering_type, duration
    )
    item = (
        f"<item><reservedInstancesOfferingId>{offering}</reservedInstancesOfferingId>"
        f"<instanceType>{escape(instance_type)}</instanceType><duration>{duration}</duration>"
        "<fixedPrice>0.0</fixedPrice><usagePrice>0.0</usagePrice>"
        f"<productDescription>{escape(product)}</productDescription>"
        f"<instanceTenancy>{escape(tenancy)}</instanceTenancy><currencyCode>USD</currencyCode>"
        f"<offeringType>{escape(offering_type)}</offeringType>"
        f"<offeringClass>{escape(offering_class)}</offeringClass><marketplace>false</marketplace>"
        "<recurringCharges/></item>"
    )
    return _ec2(
        "DescribeReservedInstancesOfferings",
        f"<reservedInstancesOfferingsSet>{item}</reservedInstancesOfferingsSet>",
    )


async def _ec2_purchase(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    offering = form.get("ReservedInstancesOfferingId", "")
    count = form.get("InstanceCount", "1")
    with sim._lock:
        resource_type = next(
            (
                c.params.get("InstanceType", "")
                for c in reversed(sim.calls)
                if c.action == "DescribeReservedInstancesOfferings"
                and c.account == account
                and _offering_id(
                    "ri",
                    c.params.get("InstanceType", "m5.large"),
                    c.params.get("ProductDescription", "Linux/UNIX"),
                    c.params.get("InstanceTenancy", "default"),
                    c.params.get("OfferingClass", "standard"),
                    c.params.get("OfferingType", "No Upfront"),
                    c.params.get("MaxDuration") or c.params.get("MinDuration") or "31536000",
                )
                == offering
            ),
            "",
        )
    failure = sim._failure(account, resource_type)
    if failure:
        return _ec2_error(failure, f"cannot purchase {resource_type} now")
    ri_id = str(uuid.uuid4())
    await _accept(
        sim,
        AwsPurchase(
            "ec2", account, key, ri_id, offering, count, None, resource_type, datetime.now(UTC)
        ),
    )
    return _ec2(
        "PurchaseReservedInstancesOffering", f"<reservedInstancesId>{ri_id}</reservedInstancesId>"
    )


async def _ec2_describe(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    items = []
    for p in sim.purchases_of(account):
        if p.service != "ec2":
            continue
        tags = "".join(
            f"<item><key>{escape(k)}</key><value>{escape(v)}</value></item>"
            for k, v in p.tags.items()
        )
        items.append(
            f"<item><reservedInstancesId>{p.commitment_id}</reservedInstancesId>"
            f"<instanceType>{escape(p.resource_type)}</instanceType>"
            f"<instanceCount>{p.count}</instanceCount><start>{_iso(p.at)}</start>"
            f"<state>active</state><duration>31536000</duration>"
            f"<tagSet>{tags}</tagSet></item>"
        )
    return _ec2(
        "DescribeReservedInstances",
        f"<reservedInstancesSet>{''.join(items)}</reservedInstancesSet>",
    )


async def _ec2_tags(sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]) -> Response:
    resource = form.get("ResourceId.1", "")
    tags: dict[str, str] = {}
    index = 1
    while f"Tag.{index}.Key" in form:
        tags[form[f"Tag.{index}.Key"]] = form.get(f"Tag.{index}.Value", "")
        index += 1
    with sim._lock:
        for p in sim.purchases:
            if p.account == account and p.commitment_id == resource:
                p.tags.update(tags)
                return _ec2("CreateTags", "<return>true</return>")
    return _ec2_error("InvalidID", f"The ID '{resource}' is not valid")


_EC2_ACTIONS = {
    "DescribeReservedInstancesOfferings": _ec2_offerings,
    "PurchaseReservedInstancesOffering": _ec2_purchase,
    "DescribeReservedInstances": _ec2_describe,
    "CreateTags": _ec2_tags,
}


# RDS ------------------------------------------------------------------------------------------


def _rds_instance(p: AwsPurchase) -> str:
    return (
        f"<ReservedDBInstanceId>{escape(p.commitment_id)}</ReservedDBInstanceId>"
        f"<ReservedDBInstancesOfferingId>{p.offering_id}</ReservedDBInstancesOfferingId>"
        f"<DBInstanceClass>{escape(p.resource_type)}</DBInstanceClass>"
        f"<DBInstanceCount>{p.count}</DBInstanceCount><StartTime>{_iso(p.at)}</StartTime>"
        "<State>payment-pending</State>"
    )


async def _rds_offerings(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    klass = form.get("DBInstanceClass", "db.m5.large")
    product = form.get("ProductDescription", "postgresql")
    duration = form.get("Duration", "31536000")
    offering_type = form.get("OfferingType", "No Upfront")
    multi_az = form.get("MultiAZ", "false")
    offering = _offering_id("rds", klass, product, duration, offering_type, multi_az)
    body = (
        "<ReservedDBInstancesOfferings><ReservedDBInstancesOffering>"
        f"<ReservedDBInstancesOfferingId>{offering}</ReservedDBInstancesOfferingId>"
        f"<DBInstanceClass>{escape(klass)}</DBInstanceClass><Duration>{duration}</Duration>"
        f"<ProductDescription>{escape(product)}</ProductDescription>"
        f"<OfferingType>{escape(offering_type)}</OfferingType><MultiAZ>{multi_az}</MultiAZ>"
        "<FixedPrice>0.0</FixedPrice><UsagePrice>0.0</UsagePrice><CurrencyCode>USD</CurrencyCode>"
        "</ReservedDBInstancesOffering></ReservedDBInstancesOfferings>"
    )
    return _query("DescribeReservedDBInstancesOfferings", RDS_NS, body)


async def _rds_purchase(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    reservation = form.get("ReservedDBInstanceId", "") or str(uuid.uuid4())
    offering = form.get("ReservedDBInstancesOfferingId", "")
    resource_type = next(
        (
            c.params.get("DBInstanceClass", "")
            for c in reversed(sim.calls_of("DescribeReservedDBInstancesOfferings"))
            if c.account == account
        ),
        "",
    )
    with sim._lock:
        if any(
            p.service == "rds" and p.account == account and p.commitment_id == reservation
            for p in sim.purchases
        ):
            return _query_error(
                "ReservedDBInstanceAlreadyExists",
                f"User already has a reservation with the given identifier {reservation}.",
                404,
            )
    failure = sim._failure(account, resource_type)
    if failure:
        return _query_error(failure, f"cannot purchase {resource_type} now", 400)
    purchase = AwsPurchase(
        "rds",
        account,
        key,
        reservation,
        offering,
        form.get("DBInstanceCount", "1"),
        reservation,
        resource_type,
        datetime.now(UTC),
    )
    await _accept(sim, purchase)
    return _query(
        "PurchaseReservedDBInstancesOffering",
        RDS_NS,
        f"<ReservedDBInstance>{_rds_instance(purchase)}</ReservedDBInstance>",
    )


async def _rds_describe(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    wanted = form.get("ReservedDBInstanceId")
    found = [
        p
        for p in sim.purchases_of(account)
        if p.service == "rds" and (wanted is None or p.commitment_id == wanted)
    ]
    if wanted is not None and not found:
        return _query_error("ReservedDBInstanceNotFound", f"{wanted} not found", 404)
    items = "".join(f"<ReservedDBInstance>{_rds_instance(p)}</ReservedDBInstance>" for p in found)
    return _query(
        "DescribeReservedDBInstances", RDS_NS, f"<ReservedDBInstances>{items}</ReservedDBInstances>"
    )


_RDS_ACTIONS = {
    "DescribeReservedDBInstancesOfferings": _rds_offerings,
    "PurchaseReservedDBInstancesOffering": _rds_purchase,
    "DescribeReservedDBInstances": _rds_describe,
}


# ElastiCache (query, like RDS) ----------------------------------------------------------------

ELASTICACHE_NS = "http://elasticache.amazonaws.com/doc/2015-02-02/"


def _cache_node(p: AwsPurchase) -> str:
    return (
        f"<ReservedCacheNodeId>{escape(p.commitment_id)}</ReservedCacheNodeId>"
        f"<ReservedCacheNodesOfferingId>{p.offering_id}</ReservedCacheNodesOfferingId>"
        f"<CacheNodeType>{escape(p.resource_type)}</CacheNodeType>"
        f"<CacheNodeCount>{p.count}</CacheNodeCount><StartTime>{_iso(p.at)}</StartTime>"
        "<State>payment-pending</State>"
    )


async def _cache_offerings(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    node_type = form.get("CacheNodeType", "cache.m5.large")
    offering = _offering_id(
        "cache",
        node_type,
        form.get("ProductDescription", "redis"),
        form.get("Duration", "31536000"),
        form.get("OfferingType", "No Upfront"),
    )
    body = (
        "<ReservedCacheNodesOfferings><ReservedCacheNodesOffering>"
        f"<ReservedCacheNodesOfferingId>{offering}</ReservedCacheNodesOfferingId>"
        f"<CacheNodeType>{escape(node_type)}</CacheNodeType>"
        "</ReservedCacheNodesOffering></ReservedCacheNodesOfferings>"
    )
    return _query("DescribeReservedCacheNodesOfferings", ELASTICACHE_NS, body)


async def _cache_purchase(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    reservation = form.get("ReservedCacheNodeId", "") or str(uuid.uuid4())
    resource_type = next(
        (
            c.params.get("CacheNodeType", "")
            for c in reversed(sim.calls_of("DescribeReservedCacheNodesOfferings"))
            if c.account == account
        ),
        "",
    )
    with sim._lock:
        if any(
            p.service == "elasticache" and p.account == account and p.commitment_id == reservation
            for p in sim.purchases
        ):
            return _query_error(
                "ReservedCacheNodeAlreadyExists", f"{reservation} already exists", 404
            )
    failure = sim._failure(account, resource_type)
    if failure:
        return _query_error(failure, f"cannot purchase {resource_type} now", 400)
    purchase = AwsPurchase(
        "elasticache",
        account,
        key,
        reservation,
        form.get("ReservedCacheNodesOfferingId", ""),
        form.get("CacheNodeCount", "1"),
        reservation,
        resource_type,
        datetime.now(UTC),
    )
    await _accept(sim, purchase)
    return _query(
        "PurchaseReservedCacheNodesOffering",
        ELASTICACHE_NS,
        f"<ReservedCacheNode>{_cache_node(purchase)}</ReservedCacheNode>",
    )


async def _cache_describe(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    wanted = form.get("ReservedCacheNodeId")
    found = [
        p
        for p in sim.purchases_of(account)
        if p.service == "elasticache" and (wanted is None or p.commitment_id == wanted)
    ]
    if wanted is not None and not found:
        return _query_error("ReservedCacheNodeNotFound", f"{wanted} not found", 404)
    items = "".join(f"<ReservedCacheNode>{_cache_node(p)}</ReservedCacheNode>" for p in found)
    return _query(
        "DescribeReservedCacheNodes",
        ELASTICACHE_NS,
        f"<ReservedCacheNodes>{items}</ReservedCacheNodes>",
    )


_ELASTICACHE_ACTIONS = {
    "DescribeReservedCacheNodesOfferings": _cache_offerings,
    "PurchaseReservedCacheNodesOffering": _cache_purchase,
    "DescribeReservedCacheNodes": _cache_describe,
}


# Redshift (query; no idempotency token, like EC2) ---------------------------------------------

REDSHIFT_NS = "http://redshift.amazonaws.com/doc/2012-12-01/"
_REDSHIFT_TYPES = ("ra3.xlplus", "ra3.4xlarge", "dc2.large")
_REDSHIFT_PAYMENTS = ("No Upfront", "Partial Upfront", "All Upfront")


def _redshift_offerings_list() -> list[tuple[str, str, int, str]]:
    return [
        (_offering_id("rs", node, str(duration), payment), node, duration, payment)
        for node in _REDSHIFT_TYPES
        for duration in (31_536_000, 94_608_000)
        for payment in _REDSHIFT_PAYMENTS
    ]


async def _redshift_offerings(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    items = "".join(
        "<ReservedNodeOffering>"
        f"<ReservedNodeOfferingId>{offering}</ReservedNodeOfferingId><NodeType>{node}</NodeType>"
        f"<Duration>{duration}</Duration><OfferingType>{payment}</OfferingType>"
        "<FixedPrice>0.0</FixedPrice><UsagePrice>0.0</UsagePrice><CurrencyCode>USD</CurrencyCode>"
        "</ReservedNodeOffering>"
        for offering, node, duration, payment in _redshift_offerings_list()
    )
    return _query(
        "DescribeReservedNodeOfferings",
        REDSHIFT_NS,
        f"<ReservedNodeOfferings>{items}</ReservedNodeOfferings>",
    )


def _redshift_node(p: AwsPurchase) -> str:
    return (
        f"<ReservedNodeId>{p.commitment_id}</ReservedNodeId>"
        f"<ReservedNodeOfferingId>{p.offering_id}</ReservedNodeOfferingId>"
        f"<NodeType>{escape(p.resource_type)}</NodeType><NodeCount>{p.count}</NodeCount>"
        f"<StartTime>{_iso(p.at)}</StartTime><State>payment-pending</State>"
    )


async def _redshift_purchase(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    offering = form.get("ReservedNodeOfferingId", "")
    node_type = next((n for o, n, _d, _p in _redshift_offerings_list() if o == offering), "")
    if not node_type:
        return _query_error("ReservedNodeOfferingNotFound", f"{offering} not found", 404)
    failure = sim._failure(account, node_type)
    if failure:
        return _query_error(failure, f"cannot purchase {node_type} now", 400)
    purchase = AwsPurchase(
        "redshift",
        account,
        key,
        str(uuid.uuid4()),
        offering,
        form.get("NodeCount", "1"),
        None,
        node_type,
        datetime.now(UTC),
    )
    await _accept(sim, purchase)
    return _query(
        "PurchaseReservedNodeOffering",
        REDSHIFT_NS,
        f"<ReservedNode>{_redshift_node(purchase)}</ReservedNode>",
    )


async def _redshift_describe(
    sim: AwsPurchaseSim, account: str, key: str, form: dict[str, str]
) -> Response:
    items = "".join(
        f"<ReservedNode>{_redshift_node(p)}</ReservedNode>"
        for p in sim.purchases_of(account)
        if p.service == "redshift"
    )
    return _query("DescribeReservedNodes", REDSHIFT_NS, f"<ReservedNodes>{items}</ReservedNodes>")


_REDSHIFT_ACTIONS = {
    "DescribeReservedNodeOfferings": _redshift_offerings,
    "PurchaseReservedNodeOffering": _redshift_purchase,
    "DescribeReservedNodes": _redshift_describe,
}


# MemoryDB (json 1.1) --------------------------------------------------------------------------


def _json11_error(code: str, message: str, status: int = 400) -> Response:
    return Response(
        json.dumps({"__type": code, "message": message}),
        status_code=status,
        media_type="application/x-amz-json-1.1",
    )


def _json11(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), media_type="application/x-amz-json-1.1")


async def _memorydb(request: Request, sim: AwsPurchaseSim) -> Response:
    operation = request.headers["x-amz-target"].partition(".")[2]
    body = json.loads(await request.body() or b"{}")
    key, account = _caller(request, sim)
    with sim._lock:
        sim.calls.append(AwsCall(operation, key, account, {k: str(v) for k, v in body.items()}))
    if account is None:
        return _json11_error("UnrecognizedClientException", "The security token is invalid.", 400)
    if operation == "DescribeReservedNodesOfferings":
        node_type = str(body.get("NodeType", "db.r6g.large"))
        offering = _offering_id(
            "memorydb", node_type, str(body.get("Duration", "")), str(body.get("OfferingType", ""))
        )
        return _json11(
            {
                "ReservedNodesOfferings": [
                    {"ReservedNodesOfferingId": offering, "NodeType": node_type}
                ]
            }
        )
    if operation == "PurchaseReservedNodesOffering":
        reservation = str(body.get("ReservationId") or uuid.uuid4())
        resource_type = next(
            (
                c.params.get("NodeType", "")
                for c in reversed(sim.calls_of("DescribeReservedNodesOfferings"))
                if c.account == account
            ),
            "",
        )
        with sim._lock:
            if any(
                p.service == "memorydb" and p.account == account and p.commitment_id == reservation
                for p in sim.purchases
            ):
                return _json11_error("ReservedNodeAlreadyExistsFault", f"{reservation} exists")
        failure = sim._failure(account, resource_type)
        if failure:
            return _json11_error(failure, f"cannot purchase {resource_type} now")
        purchase = AwsPurchase(
            "memorydb",
            account,
            key,
            reservation,
            str(body.get("ReservedNodesOfferingId", "")),
            str(body.get("NodeCount", 1)),
            reservation,
            resource_type,
            datetime.now(UTC),
        )
        await _accept(sim, purchase)
        return _json11({"ReservedNode": {"ReservationId": reservation, "NodeCount": 1}})
    if operation == "DescribeReservedNodes":
        wanted = body.get("ReservationId")
        found = [
            {"ReservationId": p.commitment_id, "NodeType": p.resource_type, "State": "active"}
            for p in sim.purchases_of(account)
            if p.service == "memorydb" and (wanted is None or p.commitment_id == wanted)
        ]
        if wanted is not None and not found:
            return _json11_error("ReservedNodeNotFoundFault", f"{wanted} not found", 404)
        return _json11({"ReservedNodes": found})
    return _json11_error("UnknownOperationException", operation)


# Savings Plans (rest-json) --------------------------------------------------------------------


async def _sp_create(request: Request) -> Response:
    sim: AwsPurchaseSim = request.app.state.sim
    body = json.loads(await request.body() or b"{}")
    key, account = _caller(request, sim)
    with sim._lock:
        sim.calls.append(
            AwsCall("CreateSavingsPlan", key, account, {k: str(v) for k, v in body.items()})
        )
    if account is None:
        return _json_error("UnrecognizedClientException", "The security token is invalid.", 403)
    token = str(body.get("clientToken") or uuid.uuid4())
    offering = str(body.get("savingsPlanOfferingId", ""))
    with sim._lock:
        for p in sim.purchases:
            if p.service == "savings-plans" and p.account == account and p.token == token:
                return Response(
                    json.dumps({"savingsPlanId": p.commitment_id}), media_type="application/json"
                )
    failure = sim._failure(account, offering) or sim._failure(account, "*")
    if failure:
        return _json_error("ValidationException", f"cannot create the savings plan: {failure}")
    plan_id = str(uuid.uuid4())
    await _accept(
        sim,
        AwsPurchase(
            "savings-plans",
            account,
            key,
            plan_id,
            offering,
            str(body.get("commitment", "")),
            token,
            offering,
            datetime.now(UTC),
        ),
    )
    return Response(json.dumps({"savingsPlanId": plan_id}), media_type="application/json")


async def _sp_describe(request: Request) -> Response:
    sim: AwsPurchaseSim = request.app.state.sim
    body = json.loads(await request.body() or b"{}")
    _key, account = _caller(request, sim)
    if account is None:
        return _json_error("UnrecognizedClientException", "The security token is invalid.", 403)
    wanted = set(body.get("savingsPlanIds") or [])
    plans = [
        {
            "savingsPlanId": p.commitment_id,
            "offeringId": p.offering_id,
            "commitment": p.count,
            "state": "active",
            "start": _iso(p.at),
        }
        for p in sim.purchases_of(account)
        if p.service == "savings-plans" and (not wanted or p.commitment_id in wanted)
    ]
    return Response(json.dumps({"savingsPlans": plans}), media_type="application/json")


# OpenSearch (rest-json) -----------------------------------------------------------------------

OPENSEARCH = "/2021-01-01/opensearch"
_OS_PAYMENTS = ("NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT")
_OS_TYPES = ("r6g.large.search", "m6g.large.search", "c6g.xlarge.search")


def _os_offering_id(*parts: str) -> str:
    # OpenSearch offering ids are UUIDs (botocore checks the length).
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(parts)))


async def _os_offerings(request: Request) -> Response:
    sim: AwsPurchaseSim = request.app.state.sim
    _key, account = _caller(request, sim)
    if account is None:
        return _json_error("UnrecognizedClientException", "The security token is invalid.", 403)
    offerings = [
        {
            "ReservedInstanceOfferingId": _os_offering_id(instance_type, str(duration), payment),
            "InstanceType": instance_type,
            "Duration": duration,
            "PaymentOption": payment,
            "FixedPrice": 0.0,
            "UsagePrice": 0.0,
            "CurrencyCode": "USD",
        }
        for instance_type in _OS_TYPES
        for duration in (31_536_000, 94_608_000)
        for payment in _OS_PAYMENTS
    ]
    return Response(
        json.dumps({"ReservedInstanceOfferings": offerings}), media_type="application/json"
    )


async def _os_purchase(request: Request) -> Response:
    sim: AwsPurchaseSim = request.app.state.sim
    body = json.loads(await request.body() or b"{}")
    key, account = _caller(request, sim)
    with sim._lock:
        sim.calls.append(
            AwsCall(
                "PurchaseReservedInstanceOffering",
                key,
                account,
                {k: str(v) for k, v in body.items()},
            )
        )
    if account is None:
        return _json_error("UnrecognizedClientException", "The security token is invalid.", 403)
    offering = str(body.get("ReservedInstanceOfferingId", ""))
    resource_type = next(
        (
            t
            for t in _OS_TYPES
            if any(
                offering == _os_offering_id(t, str(d), p)
                for d in (31_536_000, 94_608_000)
                for p in _OS_PAYMENTS
            )
        ),
        "",
    )
    failure = sim._failure(account, resource_type)
    if failure:
        return _json_error("ValidationException", f"cannot purchase {resource_type}: {failure}")
    # Name uniqueness is not documented: like the worst case, a repeated name buys again.
    purchase = AwsPurchase(
        "opensearch",
        account,
        key,
        str(uuid.uuid4()),
        offering,
        str(body.get("InstanceCount", 1)),
        str(body.get("ReservationName", "")),
        resource_type,
        datetime.now(UTC),
    )
    await _accept(sim, purchase)
    return Response(
        json.dumps(
            {"ReservedInstanceId": purchase.commitment_id, "ReservationName": purchase.token}
        ),
        media_type="application/json",
    )


async def _os_describe(request: Request) -> Response:
    sim: AwsPurchaseSim = request.app.state.sim
    _key, account = _caller(request, sim)
    if account is None:
        return _json_error("UnrecognizedClientException", "The security token is invalid.", 403)
    found = [
        {
            "ReservationName": p.token,
            "ReservedInstanceId": p.commitment_id,
            "ReservedInstanceOfferingId": p.offering_id,
            "InstanceType": p.resource_type,
            "InstanceCount": int(p.count),
            "State": "active",
        }
        for p in sim.purchases_of(account)
        if p.service == "opensearch"
    ]
    return Response(json.dumps({"ReservedInstances": found}), media_type="application/json")


def create_app(sim: AwsPurchaseSim) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", _form_endpoint, methods=["POST"]),
            Route("/CreateSavingsPlan", _sp_create, methods=["POST"]),
            Route("/DescribeSavingsPlans", _sp_describe, methods=["POST"]),
            Route(f"{OPENSEARCH}/reservedInstanceOfferings", _os_offerings, methods=["GET"]),
            Route(f"{OPENSEARCH}/purchaseReservedInstanceOffering", _os_purchase, methods=["POST"]),
            Route(f"{OPENSEARCH}/reservedInstances", _os_describe, methods=["GET"]),
        ]
    )
    app.state.sim = sim
    return app


@dataclass
class AwsPurchaseServer:
    url: str
    sim: AwsPurchaseSim
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def env(self) -> dict[str, str]:
        """The botocore endpoint variables pointing every simulated service here."""
        return {
            f"AWS_ENDPOINT_URL_{name}": self.url
            for name in (
                "STS",
                "EC2",
                "RDS",
                "ELASTICACHE",
                "MEMORYDB",
                "OPENSEARCH",
                "REDSHIFT",
                "SAVINGSPLANS",
            )
        }

    def stop(self) -> None:
        self.sim.release()
        self._server.should_exit = True
        self._thread.join(timeout=10)


@contextmanager
def run_aws_purchase_sim() -> Iterator[AwsPurchaseServer]:
    """``with run_aws_purchase_sim() as aws:`` - a running server on a free 127.0.0.1 port."""
    sim = AwsPurchaseSim()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(sim), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"aws-purchases-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the AWS purchase simulator did not start")
        time.sleep(0.02)
    running = AwsPurchaseServer(f"http://127.0.0.1:{port}", sim, server, thread)
    try:
        yield running
    finally:
        running.stop()
