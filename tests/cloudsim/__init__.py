"""Cloud simulator for tests: Azure (Entra ID, ARM) and GCP (OAuth, STS, Resource Manager)
over real HTTP(S), plus a moto server for AWS. See app.py for how clients trust its CA."""

from .app import RequestRecord, SimState, create_app
from .keys import make_gcp_key
from .moto_server import reset_moto, run_moto_server
from .server import SimServer, run_cloudsim, start_cloudsim

__all__ = [
    "RequestRecord",
    "SimServer",
    "SimState",
    "create_app",
    "make_gcp_key",
    "reset_moto",
    "run_cloudsim",
    "run_moto_server",
    "start_cloudsim",
]
