"""Bot API calls over aiohttp instead of python-telegram-bot's default httpx (a PTB `BaseRequest`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """Bot API calls over aiohttp (already the web server's library), at most `limit` connections.

    Why: profiled in a burst, httpx + httpcore cost the bot ~2.3 ms per sendMessage, more than all
    the rest of an answered question; their pool does work proportional to the connections it holds
    on every request, and httpcore retries a failing `import sniffio` each time. getUpdates keeps
    python-telegram-bot's own httpx request (one call per 100 updates).
    """

    def __init__(self, limit: int, read_timeout: float = 5.0, write_timeout: float = 5.0,
                 connect_timeout: float = 5.0, pool_timeout: float = 10.0, media_write_timeout: float = 20.0):
        self._limit = limit
        self._timeouts = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout,
                          "pool": pool_timeout, "media": media_write_timeout}
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._limit),
                                                  headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data and request_data.contains_files else None
        fields = request_data.json_parameters if request_data else {}
        headers = None
        if files:
            data: aiohttp.FormData | bytes | None = aiohttp.FormData(fields)
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, content, filename=filename, content_type=mimetype)
        elif fields:
            # Encoded here rather than handed to aiohttp as a dict: for a dict aiohttp first tries
            # every payload type, then builds a FormData (a multipart writer included) per call,
            # ~5 % of the loop in a burst of answers. The bytes are the same.
            data, headers = urlencode(fields).encode(), FORM_HEADERS
        else:
            data = None

        def given(value: Any, default: str) -> float | None:  # a timeout left at DEFAULT_NONE takes ours; None: no limit
            return self._timeouts[default] if value is BaseRequest.DEFAULT_NONE else value

        read, write = given(read_timeout, "read"), given(write_timeout, "media" if files else "write")
        connect = given(connect_timeout, "connect")
        # aiohttp has no separate write timeout: the wait for the answer covers sending the request too.
        timeout = aiohttp.ClientTimeout(connect=given(pool_timeout, "pool"), sock_connect=connect,
                                        sock_read=None if read is None else max(read, write or 0.0))
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # Some aiohttp errors quote the URL, and a Bot API URL holds the token.
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {str(err).replace(url, '<Bot API URL>')}") from err
