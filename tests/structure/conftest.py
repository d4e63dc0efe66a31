from tests.credentials.fixtures import aws, sts_proxy

__all__ = ["aws", "sts_proxy"]
