"""The server the SPA's browser tests (frontend/e2e, Playwright) run against.

``python -m tests.e2e.serve --port N --state FILE`` starts moto (the AWS stand-in, reached
through botocore's own ``AWS_ENDPOINT_URL_*``), creates an IAM user whose access keys are
good, switches on moto's signature checking so any other key is refused, writes those keys
to FILE (JSON) for the tests, then runs the real app (``api.main:app_factory``) with
uvicorn on a fresh embedded PostgreSQL in a temporary ``CUDLY_DATA_DIR`` — or on
``DATABASE_URL`` when set (it must name an empty database). Nothing here is special-cased
in the product: it sees ordinary endpoint settings.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import uvicorn

from api.cli import exit_cleanly_on_sigterm
from tests.cloudsim import SimServer, run_cloudsim, run_moto_server
from tests.cloudsim.aws_purchases import run_aws_purchase_sim
from tests.cloudsim.collect import aws_ec2_detail, aws_rds_detail, aws_sp_detail, collect_env

AMBIENT_KEY_ID = "AKIAE2ESERVERAMBIENT"
AMBIENT_SECRET = "e2e-server-ambient-secret-000000000000000"
# moto's default account: the identity its IAM users resolve to (GetCallerIdentity.Account).
MOTO_ACCOUNT = "123456789012"


def _good_keys(moto_url: str) -> tuple[str, str, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=AMBIENT_KEY_ID,
        aws_secret_access_key=AMBIENT_SECRET,
    )
    arn = iam.create_user(UserName="cudly-e2e")["User"]["Arn"]
    iam.put_user_policy(
        UserName="cudly-e2e",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="cudly-e2e")["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


def _enable_signature_checks(moto_url: str) -> None:
    request = urllib.request.Request(
        f"{moto_url}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _arrange_cloud(sim: SimServer) -> None:
    """What moto's account "has": recommendations and a few active commitments (realistic
    enough for the screenshots and the refresh test)."""
    c = sim.state.collect
    for instance, region, savings, count in [
        ("m5.large", "US East (N. Virginia)", "412.80", "6"),
        ("m5.xlarge", "EU (Ireland)", "268.15", "2"),
        ("c6g.2xlarge", "US West (Oregon)", "1190.42", "8"),
        ("r6i.large", "Asia Pacific (Tokyo)", "96.33", "1"),
    ]:
        c.aws_ri(
            MOTO_ACCOUNT,
            "ec2",
            aws_ec2_detail(
                instance, region=region, count=count, savings=savings, savings_pct="31.4"
            ),
        )
    c.aws_ri(
        MOTO_ACCOUNT, "rds", aws_rds_detail("db.r5.large", savings="355.10", savings_pct="28.0")
    )
    c.aws_sp(
        MOTO_ACCOUNT,
        aws_sp_detail("COMPUTE_SP", hourly="2.5", savings="1504.00"),
        sp_type="COMPUTE_SP",
    )
    # EC2 is the purchase simulator's (offerings, purchases): the inventory shown is RDS's.
    start = datetime.now(UTC) - timedelta(days=300)
    c.aws_inventory(
        MOTO_ACCOUNT,
        "rds",
        *[
            {
                "ReservedDBInstanceId": f"rds-e2e-{n}",
                "DBInstanceClass": instance,
                "DBInstanceCount": n + 1,
                "ProductDescription": "postgresql",
                "OfferingType": "Partial Upfront",
                "RecurringCharges": [
                    {"RecurringChargeAmount": 0.05 * (n + 1), "RecurringChargeFrequency": "Hourly"}
                ],
                "MultiAZ": False,
                "StartTime": start - timedelta(days=days),
                "Duration": 31536000,
                "FixedPrice": 120.0 * (n + 1),
                "CurrencyCode": "USD",
                "State": "active",
            }
            for n, (instance, days) in enumerate(
                [("db.r5.large", 0), ("db.m5.xlarge", 40), ("db.t3.medium", 55)]
            )
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines

    # Stopped with SIGTERM by Playwright: exit handlers must run, and the embedded
    # PostgreSQL (stopped by one, registered when the app starts it) must stop before its
    # data directory goes — atexit runs last-registered first, so register the removal now.
    exit_cleanly_on_sigterm()
    data = tempfile.mkdtemp(prefix="cudly-e2e-")
    atexit.register(shutil.rmtree, data, ignore_errors=True)
    with (
        run_moto_server() as moto_url,
        run_cloudsim(tls=False) as sim,
        run_aws_purchase_sim() as purchases,
    ):
        arn, key_id, secret = _good_keys(moto_url)
        _enable_signature_checks(moto_url)
        _arrange_cloud(sim)
        os.environ.update(collect_env(sim))  # Cost Explorer & co. (STS stays on moto)
        purchases.sim.add_key(MOTO_ACCOUNT, key_id)
        # One instance type the cloud will not sell: a real purchase of moto's account ends
        # `partial` (the others bought), so the Executions page has a line to Retry.
        purchases.sim.fail(MOTO_ACCOUNT, "m5.xlarge", "InsufficientInstanceCapacity")
        os.environ["AWS_ENDPOINT_URL_EC2"] = purchases.url  # RI offerings and purchases
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": moto_url,
                "AWS_ACCESS_KEY_ID": AMBIENT_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": AMBIENT_SECRET,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true",
                "CUDLY_DATA_DIR": data,
                "CUDLY_SCHEDULER_ENABLED": "false",
                # Real (non-dry-run) executions wait for a second person; the simulator sells.
                "CUDLY_PURCHASES_ENABLED": "true",
                "CUDLY_PURCHASE_APPROVAL": "required",
                "CUDLY_LOG_LEVEL": "WARNING",
            }
        )
        for name in (
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "CUDLY_ADMIN_EMAIL",
            "CUDLY_ADMIN_PASSWORD",
        ):
            os.environ.pop(name, None)
        state = {
            "aws_account": MOTO_ACCOUNT,
            "arn": arn,
            "access_key_id": key_id,
            "secret_access_key": secret,
        }
        args.state.parent.mkdir(parents=True, exist_ok=True)
        args.state.write_text(json.dumps(state), encoding="utf-8")
        uvicorn.run(
            "api.main:app_factory",
            factory=True,
            host="127.0.0.1",
            port=args.port,
            access_log=False,
            log_config=None,
        )


if __name__ == "__main__":
    main()
