"""One paging helper per wire family; every page goes through the retry policy.

| family | next page |
|---|---|
| AWS | the output token (``NextPageToken``, ``NextToken``, ``Marker``, ``nextToken``) sent back as the input token; a page may be empty while the token is set |
| ARM | the absolute ``nextLink`` URL (only followed when it is on ``CUDLY_AZURE_MANAGEMENT_URL``: an answer never sends our bearer token elsewhere); 204 = no content |
| Google | ``nextPageToken`` sent back as the ``pageToken`` query parameter |

A token that never ends stops after MAX_PAGES with a ProviderError rather than spinning.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from api.providers.base import ProviderError
from api.providers.retry import (
    ARM_RETRY_HEADERS,
    GOOGLE_RETRY_HEADERS,
    RetryPolicy,
    aws_call,
    http_call,
    malformed,
)

MAX_PAGES = 10_000

ErrorFor = Callable[[httpx.Response], ProviderError]


def _never_ends(what: str) -> ProviderError:
    return ProviderError(f"{what} never stopped paging", code="paging")


async def aws_pages(
    call: Callable[..., Awaitable[dict[str, Any]]],
    request: dict[str, Any],
    *,
    policy: RetryPolicy,
    what: str,
    token_in: str = "NextToken",  # noqa: S107 - a paging field name, not a secret
    token_out: str | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every page of a botocore operation, e.g. ``aws_pages(ce.get_x, {...}, token_in="NextPageToken")``."""
    token: str | None = None
    for _ in range(MAX_PAGES):
        params = dict(request)
        if token:
            params[token_in] = token
        page = await aws_call(policy, functools.partial(call, **params), what=what)
        if not isinstance(page, dict):
            raise malformed(what)
        yield page
        next_token = page.get(token_out or token_in)
        if not next_token:
            return
        token = str(next_token)
    raise _never_ends(what)


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise malformed(what, "not JSON") from None
    if not isinstance(body, dict):
        raise malformed(what, "not a JSON object")
    return body


async def arm_pages(
    http: httpx.AsyncClient,
    url: str,
    *,
    params: dict[str, str],
    token: str,
    base_url: str,
    policy: RetryPolicy,
    what: str,
    error: ErrorFor,
) -> AsyncIterator[dict[str, Any]]:
    """Every page of an ARM list (``{value, nextLink}``); a 204 yields nothing."""
    headers = {"Authorization": f"Bearer {token}"}
    next_url: str | None = url
    next_params: dict[str, str] | None = params
    for _ in range(MAX_PAGES):
        assert next_url is not None
        response = await http_call(
            policy,
            functools.partial(http.get, next_url, params=next_params, headers=headers),
            what=what,
            hint_headers=ARM_RETRY_HEADERS,
        )
        if response.status_code == 204:
            return
        if response.status_code != 200:
            raise error(response)
        page = _json(response, what)
        yield page
        link = page.get("nextLink")
        if not link:
            return
        if not isinstance(link, str) or not link.startswith(base_url.rstrip("/") + "/"):
            raise malformed(what, "nextLink outside the management endpoint")
        next_url, next_params = link, None  # nextLink carries every query parameter
    raise _never_ends(what)


async def google_pages(
    http: httpx.AsyncClient,
    url: str,
    *,
    params: dict[str, str],
    token: str,
    policy: RetryPolicy,
    what: str,
    error: ErrorFor,
) -> AsyncIterator[dict[str, Any]]:
    """Every page of a Google list (``nextPageToken`` → ``pageToken``)."""
    headers = {"Authorization": f"Bearer {token}"}
    page_token: str | None = None
    for _ in range(MAX_PAGES):
        query = dict(params)
        if page_token:
            query["pageToken"] = page_token
        response = await http_call(
            policy,
            functools.partial(http.get, url, params=query, headers=headers),
            what=what,
            hint_headers=GOOGLE_RETRY_HEADERS,
        )
        if response.status_code != 200:
            raise error(response)
        page = _json(response, what)
        yield page
        next_token = page.get("nextPageToken")
        if not next_token:
            return
        page_token = str(next_token)
    raise _never_ends(what)
