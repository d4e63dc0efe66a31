"""The clouds for ``bench_collection``, in a process of their own so that their CPU is not
counted as the product's: the HTTPS simulator, serving every call of the sweep (STS
``GetCallerIdentity``, Cost Explorer, EC2 inventory) with the same added latency.

STS is served here rather than by moto (as the tests do): moto's threaded werkzeug server
shared this process's GIL with the simulator and answered ``GetCallerIdentity`` in a median
of ~150 ms under load while the simulator's own calls took 200 ms + ~5 ms — a cost of the
stand-in, not of the product, hidden from the ideal (it counted simulator calls only). Now
every call the product makes is a simulator call: counted in ``calls``, in the peak in
flight and in the ideal. Each account gets its own random key pair, registered with the
simulator (``CollectSim.aws_key``), so the simulator still tells the signer of every call.

Started by the benchmark; prints one JSON line (endpoints, CA, one key set per account), then
answers line commands on stdin: ``latency <s>``, ``reset``, ``stats``, ``quit``.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections import Counter
from typing import Any

from starlette.responses import Response

from tests.cloudsim.collect import AwsContext, aws_answer, aws_ec2_detail, register_aws_operation
from tests.cloudsim.server import run_cloudsim


async def get_caller_identity(ctx: AwsContext) -> Response:
    """STS ``GetCallerIdentity`` for a key the simulator knows (unknown keys never get here)."""
    return aws_answer(
        ctx,
        {
            "UserId": f"AROABENCH:{ctx.access_key_id[-8:]}",
            "Account": ctx.account,
            "Arn": f"arn:aws:sts::{ctx.account}:assumed-role/bench/bench",
        },
    )


def account_keys(n: int) -> dict[str, Any]:
    """Account ``n``'s id and a fresh temporary-looking key set (never a real key's shape)."""
    return {
        "external_id": f"{400_000_000_000 + n:012d}",
        "access_key_id": f"FAKEBENCH{n:06d}{secrets.token_hex(4).upper()}",
        "secret_access_key": secrets.token_urlsafe(30),
        "session_token": secrets.token_urlsafe(60),
    }


def main() -> None:
    count = int(sys.argv[1])
    register_aws_operation("sts", "GetCallerIdentity", get_caller_identity)
    with run_cloudsim(tls=True) as sim:
        collect = sim.state.collect
        accounts = [account_keys(n) for n in range(count)]
        for entry in accounts:
            external_id = entry["external_id"]
            collect.aws_key(entry["access_key_id"], external_id)
            collect.aws_ri(external_id, "ec2", aws_ec2_detail(account=external_id), term=3)
        print(
            json.dumps(
                {
                    "sts_url": sim.url,
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
                    per_account = Counter(c.account for c in collect.calls)
                print(
                    json.dumps(
                        {
                            "calls": calls,
                            "accounts": len(per_account),
                            # The simulator knows each call's account from the key that
                            # signed it: a call signed with another account's key would
                            # make these differ.
                            "min_calls_per_account": min(per_account.values(), default=0),
                            "max_calls_per_account": max(per_account.values(), default=0),
                            "peak": collect.peak_in_flight,
                        }
                    ),
                    flush=True,
                )
            elif command == "quit":
                break


if __name__ == "__main__":
    main()
