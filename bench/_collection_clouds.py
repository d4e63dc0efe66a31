"""The clouds for ``bench_collection``, in a process of their own so that their CPU is not
counted as the product's: moto (STS) and the HTTPS simulator (Cost Explorer, EC2 inventory).

Started by the benchmark; prints one JSON line (endpoints, CA, one set of temporary keys per
account), then answers line commands on stdin: ``latency <s>``, ``reset``, ``stats``, ``quit``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import boto3

from tests.cloudsim.collect import aws_ec2_detail
from tests.cloudsim.moto_server import run_moto_server
from tests.cloudsim.server import run_cloudsim


def main() -> None:
    count = int(sys.argv[1])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    with run_moto_server() as moto_url, run_cloudsim(tls=True) as sim:
        sts = boto3.client(
            "sts",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="FAKE-BENCH-AMBIENT-KEY",
            aws_secret_access_key="bench-ambient-secret",
        )
        collect = sim.state.collect
        accounts: list[dict[str, Any]] = []
        for n in range(count):
            external_id = f"{400_000_000_000 + n:012d}"
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{external_id}:role/bench", RoleSessionName="bench"
            )["Credentials"]
            accounts.append(
                {
                    "external_id": external_id,
                    "access_key_id": creds["AccessKeyId"],
                    "secret_access_key": creds["SecretAccessKey"],
                    "session_token": creds["SessionToken"],
                }
            )
            collect.aws_ri(external_id, "ec2", aws_ec2_detail(account=external_id), term=3)
        print(
            json.dumps(
                {
                    "moto_url": moto_url,
                    "sim_url": sim.url,
                    "ca": str(sim.ca_pem_path),
                    "accounts": accounts,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "latency":
                collect.latency_s = float(argument)
                print(json.dumps({"ok": True}), flush=True)
            elif command == "reset":
                with collect._lock:
                    collect.calls.clear()
                collect.reset_peak()
                print(json.dumps({"ok": True}), flush=True)
            elif command == "stats":
                with collect._lock:
                    calls = len(collect.calls)
                    keys = {c.account for c in collect.calls}
                print(
                    json.dumps(
                        {"calls": calls, "accounts": len(keys), "peak": collect.peak_in_flight}
                    ),
                    flush=True,
                )
            elif command == "quit":
                break


if __name__ == "__main__":
    main()
