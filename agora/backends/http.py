"""A lean HTTP/1.1 client for JSON POSTs: connections kept alive over asyncio, replies parsed by httptools (llhttp).

The ``openai`` backend's lean transport posts thousands of small requests to one server. A general client (aiohttp,
httpx) builds header multidicts, URL objects, payload writers and response objects for each; this one writes a
request head made once per pool plus the body, and reads the reply with llhttp, the C parser Node.js and uvicorn use
(Content-Length, chunked and read-to-close bodies, gzip and deflate). In a plain loop it spends about two thirds
of aiohttp's CPU a call (``benchmarks/overhead.py``).

    pool = Pool("http://127.0.0.1:8080/v1/chat/completions", {"Authorization": "Bearer ..."}, size=256)
    reply = await pool.post(b'{"model": ...}', timeout=60)    # Reply(status=200, headers={...}, body=b"...")
    await pool.aclose()

At most ``size`` connections are open at once; a call beyond them waits for one. A kept-alive connection that the
server closed while it was idle is dropped, and a request on one that the server closes before answering a byte is
sent once more on a new connection (the server never read it: this is how a keep-alive race looks). No proxy is
used (``HTTP_PROXY`` is not read), as with aiohttp's default.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httptools


class HttpError(Exception):
    """The server could not be reached, or its reply broke off or is not HTTP."""


@dataclass(frozen=True)
class Reply:
    """A whole reply: its status, its headers (names in lower case) and its body (decoded)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Pool:
    """Connections to the server of ``url``, each carrying one POST to ``url`` at a time.

    Raises ``ValueError`` for a URL that is not ``http(s)`` or has spaces, and for a header that HTTP cannot carry.

    Args:
        url: ``http://`` or ``https://`` address that every POST goes to.
        headers: sent with every request (``Host``, ``Content-Length`` and ``Content-Type`` are the pool's own).
        size: connections open at most.
        ssl_context: for ``https``; default ``ssl.create_default_context()`` (the system's CAs, ``SSL_CERT_FILE``).
    """

    def __init__(
        self, url: str, headers: Mapping[str, str], size: int, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if any(c.isspace() for c in target):
            raise ValueError(f"a space or line break in the URL's path: {url!r}")
        lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}", "Accept: application/json"]
        for name, value in headers.items():
            if any(c in "\r\n" for c in name + value) or not name.strip():
                raise ValueError(f"header {name!r}: an empty name or a line break")  # the value may be a key: not shown
            if name.lower() not in _OWN:
                lines.append(f"{name}: {value}")
        lines += ["Content-Type: application/json", "Content-Length: "]
        try:
            self._head = "\r\n".join(lines).encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError("a header or the URL has characters HTTP/1.1 cannot carry (not Latin-1)") from None
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._free = asyncio.Semaphore(size)
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def post(self, body: bytes, timeout: float) -> Reply:
        """POST ``body`` (JSON) and read the whole reply within ``timeout`` seconds, the wait for a connection
        included.

        Raises:
            TimeoutError: no whole reply within ``timeout`` (``asyncio.TimeoutError``).
            HttpError: the server cannot be reached, or closed the connection or broke HTTP before a whole reply.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new event loop (asyncio.run again): connections start afresh
            self._rebind(loop)
        request = self._head + b"%d\r\n\r\n" % len(body) + body
        deadline = loop.time() + timeout
        if self._free.locked():  # every connection is busy: wait for one, but not past the deadline
            await asyncio.wait_for(self._free.acquire(), timeout)
        else:
            await self._free.acquire()
        try:
            reply = None
            while reply is None:
                connection, reused = await self._connection(deadline)
                reply = await self._exchange(connection, request, deadline, reused)
            return reply
        finally:
            self._free.release()

    async def _exchange(self, connection: _Connection, request: bytes, deadline: float, reused: bool) -> Reply | None:
        """The reply to ``request`` on ``connection``; ``None`` when a reused connection turned out closed."""
        try:
            reply = await connection.send(request, deadline)
        except _Stale:
            if reused:
                return None  # closed by the server before it read the request: send it on a new connection
            raise HttpError("the server closed the connection before replying") from None
        except BaseException:
            connection.close()  # timed out or cancelled mid-reply: its state is unknown
            raise
        finally:
            if connection.closed:
                self._open.discard(connection)
        if not connection.closed:
            self._idle.append(connection)
        return reply

    async def _connection(self, deadline: float) -> tuple[_Connection, bool]:
        """An idle connection that is still open (and ``True``), else a new one (and ``False``)."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection, True
            self._open.discard(connection)
        loop = asyncio.get_running_loop()
        hostname = self.host if self.ssl else None
        opening = loop.create_connection(_Connection, self.host, self.port, ssl=self.ssl, server_hostname=hostname)
        try:
            _, connection = await asyncio.wait_for(opening, max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise  # a TimeoutError is an OSError too (Python 3.11 on)
        except OSError as exc:  # refused, unreachable, unknown host, a bad certificate (ssl.SSLError)
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self._open.add(connection)
        return connection, False

    async def aclose(self) -> None:
        """Close every connection."""
        self._close_all()

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._close_all()
        self._loop = loop
        self._free = asyncio.Semaphore(self._size)

    def _close_all(self) -> None:
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()


_OWN = frozenset({"host", "content-length", "content-type", "accept"})


class _Stale(Exception):
    """The connection closed before a byte of the reply came."""


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its reply, and stays open when the server keeps it alive."""

    def __init__(self) -> None:
        self.closed = False
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reply: asyncio.Future[Reply] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._received = False
        self._headers_done = False

    # -- asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"the reply is not HTTP: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._reply is None or self._reply.done():
            return
        if not self._received:
            self._fail(_Stale())
        elif self._headers_done and "content-length" not in self._headers and not self._chunked:
            self._finish()  # a body that runs to the end of the connection
        else:
            self._fail(HttpError("the server closed the connection in the middle of its reply"))

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._headers = {}
        self._body = []
        self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._parser.get_status_code() < 200:
            return  # an informational reply (100 Continue): the real one follows
        self._finish()
        if not self._parser.should_keep_alive():
            self.close()

    # -- the request
    async def send(self, request: bytes, deadline: float) -> Reply:
        """Write ``request`` and wait for its reply until ``deadline`` (the loop's clock)."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Reply] = loop.create_future()
        self._reply, self._received, self._headers_done = reply, False, False
        assert self._transport is not None
        self._transport.write(request)
        timer = loop.call_at(deadline, _expire, reply)
        try:
            return await reply
        finally:
            timer.cancel()
            self._reply = None

    def close(self) -> None:
        """Close the connection now (pending writes are dropped)."""
        self.closed = True
        if self._transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is closed: the socket goes with the transport
                self._transport.abort()

    @property
    def _chunked(self) -> bool:
        return "chunked" in self._headers.get("transfer-encoding", "").lower()

    def _finish(self) -> None:
        if self._reply is None or self._reply.done():
            return
        body = b"".join(self._body)
        encoding = self._headers.get("content-encoding", "identity").lower()
        try:
            body = _decoded(body, encoding)
        except (zlib.error, ValueError) as exc:
            self._fail(HttpError(f"the reply's {encoding} body cannot be decoded: {exc}"))
            return
        self._reply.set_result(Reply(self._parser.get_status_code(), self._headers, body))

    def _fail(self, error: Exception) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(error)


def _decoded(body: bytes, encoding: str) -> bytes:
    """``body`` without its content encoding (none is asked for; a server may send gzip or deflate anyway)."""
    if encoding in ("identity", ""):
        return body
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, wbits=zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # raw deflate, without the zlib header
            return zlib.decompress(body, wbits=-zlib.MAX_WBITS)
    raise ValueError(f"unknown content encoding {encoding!r}")


def _expire(reply: asyncio.Future[Reply]) -> None:
    if not reply.done():
        reply.set_exception(asyncio.TimeoutError())
