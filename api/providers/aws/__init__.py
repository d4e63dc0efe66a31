"""AWS through aioboto3; endpoints come only from botocore's ``AWS_ENDPOINT_URL[_<SERVICE>]``."""
