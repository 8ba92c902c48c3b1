"""agora's lean HTTP client (``agora.backends.http``) against servers that write raw HTTP: keep-alive, bodies of every
framing, servers that close, hang or break HTTP, the bound on connections, and TLS."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trustme

from agora.backends.http import HttpError, Pool
from tests.fixtures.fake_server import FakeServer

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawServer:
    """A TCP server on loopback that hands each connection (numbered from 0) to ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await self.handler(reader, writer, number)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def request(self, reader: asyncio.StreamReader) -> bytes:
        """One whole request (head and Content-Length body), recorded."""
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        whole = head + await reader.readexactly(length)
        self.requests.append(whole)
        return whole


@asynccontextmanager
async def raw_server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[RawServer]:
    server = RawServer(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/v1/chat/completions"
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


def reply(body: bytes, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: RawServer) -> None:
    """Answer every request on the connection with its body echoed back."""
    while True:
        request = await server.request(reader)
        writer.write(reply(request.partition(b"\r\n\r\n")[2]))
        await writer.drain()


async def test_requests_go_out_on_one_kept_alive_connection_with_the_pools_head() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await keep_alive(reader, writer, server)

    async with raw_server(handler) as server:
        pool = Pool(server.url, {"Authorization": "Bearer k", "Content-Type": "text/plain"}, size=4)
        replies = [await pool.post(b'{"n": %d}' % n, timeout=5) for n in range(3)]
        await pool.aclose()

    assert [r.body for r in replies] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert {r.status for r in replies} == {200}
    assert server.connections == 1
    head = server.requests[0].partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert head[0] == b"POST /v1/chat/completions HTTP/1.1"
    assert f"Host: {server.url.split('/')[2]}".encode() in head
    assert b"Authorization: Bearer k" in head
    assert b"Content-Type: application/json" in head and b"Content-Type: text/plain" not in head  # the pool's own
    assert b"Content-Length: 8" in head


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", id="chunked"
        ),
        pytest.param(reply(gzip.compress(b"hello world"), "Content-Encoding: gzip"), id="gzip"),
        pytest.param(reply(zlib.compress(b"hello world"), "Content-Encoding: deflate"), id="deflate"),
        pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" + reply(b"hello world"), id="after-100-continue"),
    ],
)
async def test_a_body_is_read_whatever_its_framing(raw: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(raw[:7])  # in two pieces: the parser carries on across reads
        await writer.drain()
        writer.write(raw[7:])
        await reader.read()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        answer = await pool.post(b"{}", timeout=5)
        await pool.aclose()
    assert (answer.status, answer.body) == (200, b"hello world")


async def test_a_body_without_length_runs_to_the_close_and_the_connection_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end")

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        first = await pool.post(b"{}", timeout=5)
        second = await pool.post(b"{}", timeout=5)
        await pool.aclose()
    assert first.body == second.body == b"to the end"
    assert server.connections == 2


async def test_error_status_and_headers_reach_the_caller() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(reply(b'{"error": {}}', "Retry-After: 7", status="429 Too Many Requests"))
        await reader.read()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        answer = await pool.post(b"{}", timeout=5)
        await pool.aclose()
    assert (answer.status, answer.headers["retry-after"], answer.body) == (429, "7", b'{"error": {}}')


async def test_a_kept_alive_connection_the_server_closed_is_replaced_and_the_request_sent_once_more() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int) -> None:
        await server.request(reader)
        writer.write(reply(b"first" if number == 0 else b"again"))
        await writer.drain()
        if number == 0:
            await server.request(reader)  # the second request arrives on the kept-alive connection ...
            writer.transport.abort()  # ... and the server drops it without a byte (a keep-alive race)
            return
        await reader.read()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        assert (await pool.post(b"{}", timeout=5)).body == b"first"
        assert (await pool.post(b"{}", timeout=5)).body == b"again"
        await pool.aclose()
    assert server.connections == 2
    assert len(server.requests) == 3


async def test_a_new_connection_closed_before_a_reply_is_an_error_not_a_retry() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.transport.abort()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        with pytest.raises(HttpError, match="closed the connection before replying"):
            await pool.post(b"{}", timeout=5)
        await pool.aclose()
    assert server.connections == 1


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", "in the middle of its reply"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP"),
        (reply(b"not gzip", "Content-Encoding: gzip"), "gzip body cannot be decoded"),
        (reply(b"x", "Content-Encoding: br"), "unknown content encoding 'br'"),
    ],
)
async def test_a_broken_reply_is_an_error(raw: bytes, error: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        writer.write(raw)
        await writer.drain()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        with pytest.raises(HttpError, match=error):
            await pool.post(b"{}", timeout=5)
        await pool.aclose()


async def test_no_reply_in_time_is_a_timeout_and_the_connection_is_closed() -> None:
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        await reader.read()  # returns when the client closes its end
        closed.set()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await pool.post(b"{}", timeout=0.3)
        assert 0.25 <= loop.time() - start < 2
        await asyncio.wait_for(closed.wait(), 5)
        await pool.aclose()


async def test_calls_beyond_the_pool_size_wait_for_a_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        while True:
            await server.request(reader)
            await asyncio.sleep(0.05)
            writer.write(reply(b"ok"))
            await writer.drain()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=2)
        replies = await asyncio.gather(*(pool.post(b"{}", timeout=10) for _ in range(8)))
        await pool.aclose()
    assert [r.body for r in replies] == [b"ok"] * 8
    assert server.connections == 2 and server.most_open == 2


async def test_the_wait_for_a_busy_pools_connection_counts_against_the_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await server.request(reader)
        await asyncio.sleep(1)
        writer.write(reply(b"slow"))
        await reader.read()

    async with raw_server(handler) as server:
        pool = Pool(server.url, {}, size=1)
        slow = asyncio.ensure_future(pool.post(b"{}", timeout=5))
        await asyncio.sleep(0.1)
        with pytest.raises(asyncio.TimeoutError):
            await pool.post(b"{}", timeout=0.2)  # the one connection is busy for another 0.9 s
        assert (await slow).body == b"slow"
        await pool.aclose()
    assert len(server.requests) == 1  # the second request never went out


async def test_an_unreachable_server_is_an_error_naming_it() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    pool = Pool(f"http://127.0.0.1:{port}/v1", {}, size=1)
    with pytest.raises(HttpError, match=f"cannot connect to 127.0.0.1:{port}"):
        await pool.post(b"{}", timeout=5)


@pytest.mark.parametrize(
    ("url", "headers", "error"),
    [
        ("ftp://example.org/v1", {}, "not an http"),
        ("http://example.org/v 1", {}, "space or line break in the URL"),
        (
            "http://example.org/v1",
            {"Authorization": "Bearer k\r\nX-Evil: 1"},
            "'Authorization': an empty name or a line",
        ),
        ("http://example.org/v1", {"Authorization": "Bearer ключ"}, "not Latin-1"),
    ],
)
def test_a_request_http_cannot_carry_makes_no_pool(url: str, headers: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error) as info:
        Pool(url, headers, size=1)
    assert "Bearer" not in str(info.value)  # a key is never shown


async def test_https_is_spoken_with_the_given_certificate_authority_and_refused_without_it() -> None:
    authority = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_side)
    client_side = ssl.create_default_context()
    authority.configure_trust(client_side)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await keep_alive(reader, writer, server)

    async with raw_server(handler, tls=server_side) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        pool = Pool(url, {}, size=1, ssl_context=client_side)
        assert (await pool.post(b"secret", timeout=5)).body == b"secret"
        assert (await pool.post(b"again", timeout=5)).body == b"again"
        await pool.aclose()
        assert server.connections == 1  # kept alive under TLS too
        untrusting = Pool(url, {}, size=1)  # the system's CAs do not know this one
        with pytest.raises(HttpError, match=r"cannot connect.*CERTIFICATE_VERIFY_FAILED"):
            await untrusting.post(b"{}", timeout=5)


def test_a_pool_carries_over_to_a_new_event_loop(fake_server: FakeServer) -> None:
    pool = Pool(f"{fake_server.url}/chat/completions", {}, size=2)
    body = b'{"model": "fake", "messages": [{"role": "user", "content": "hi"}]}'
    first = asyncio.run(pool.post(body, timeout=10))
    second = asyncio.run(pool.post(body, timeout=10))  # the first loop and its connection are gone
    asyncio.run(pool.aclose())
    assert first.status == second.status == 200
    assert json.loads(first.body)["choices"] == json.loads(second.body)["choices"]
