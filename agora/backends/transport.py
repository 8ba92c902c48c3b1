"""How the ``openai`` backend reaches a server: raw JSON over agora's lean HTTP client, or the official SDK.

Both take the body of a chat-completions request and give back the reply's JSON as a dict, so the backend builds
requests and reads replies once. An HTTP error reply is a ``StatusError`` (the backend decides whether it refuses the
response format or is an agora error); a timeout or a lost connection is an agora error already.

``lean`` (the default) spends about a twentieth of the client CPU per call that the SDK does: the SDK validates and
transforms every request, builds pydantic models of every reply, and its httpx pool scans every connection for each
request (quadratic at hundreds in flight). ``sdk`` is the official client, with whatever the SDK adds (Azure and
proxy settings from its environment variables, for one); choose it with ``AGORA_OPENAI_TRANSPORT=sdk``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import os
import resource
from abc import ABC, abstractmethod
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson

from agora.backends.http import HttpError, Pool
from agora.backends.sdk_errors import retry_after, sdk_error, status_error
from agora.errors import AgoraError, BackendTimeout, BackendUnavailable, ConfigError
from agora.redaction import redact

TransportName = Literal["lean", "sdk"]
TRANSPORTS: tuple[TransportName, ...] = ("lean", "sdk")
OPENAI_URL = "https://api.openai.com/v1"
MAX_CONNECTIONS = 1000  # the SDK's own bound
DESCRIPTOR_SHARE = 4  # a client's pool takes at most this fraction (1/4) of the descriptors


class StatusError(Exception):
    """The server answered with an HTTP error: its status, its message and its ``Retry-After`` in seconds."""

    def __init__(self, status: int, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.wait = wait

    def error(self, spec: str) -> AgoraError:
        """The agora error of this reply for model ``spec``."""
        return status_error(spec, self.status, self.message, self.wait)


def pool_size() -> int:
    """Connections a client may hold open: ``MAX_CONNECTIONS``, or fewer to stay within its share of descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // DESCRIPTOR_SHARE))


def transport_name(name: str | None = None) -> TransportName:
    """``name``, else ``$AGORA_OPENAI_TRANSPORT``, else ``lean``; a ``ConfigError`` for any other name."""
    chosen = name or os.environ.get("AGORA_OPENAI_TRANSPORT") or "lean"
    if chosen not in TRANSPORTS:
        raise ConfigError(f"AGORA_OPENAI_TRANSPORT: unknown transport {chosen!r} (known: {', '.join(TRANSPORTS)})")
    return chosen


class Transport(ABC):
    """Posts chat-completions requests to one server, over a pool of connections kept alive between calls.

    Each connection holds a file descriptor: the pool is bounded by ``pool_size`` (256 of the common 1,024), and calls
    beyond it wait for a connection instead of failing to open one.
    """

    def __init__(self, spec: str, base_url: str | None, api_key: str) -> None:
        self.spec = spec
        self.base_url = (base_url or OPENAI_URL).rstrip("/")
        self.api_key = api_key

    @abstractmethod
    async def chat(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        """The JSON reply to ``body``.

        Raises:
            StatusError: the server answered with an HTTP error.
            BackendTimeout: no reply within ``timeout`` seconds.
            BackendUnavailable: the server cannot be reached, or its reply is not a JSON object.
        """

    @abstractmethod
    async def aclose(self) -> None:
        """Close the connections."""


class Lean(Transport):
    """Raw JSON posted to ``BASE_URL/chat/completions`` over agora's lean HTTP client (``agora.backends.http``)."""

    def __init__(self, spec: str, base_url: str | None, api_key: str) -> None:
        super().__init__(spec, base_url, api_key)
        self._pool: Pool | None = None
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "agora"}
        for variable, header in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
            if os.environ.get(variable):
                self._headers[header] = os.environ[variable]
        url = urlsplit(self.base_url)
        if url.username is not None or url.password is not None:  # http://user:password@host/v1: basic auth, as httpx
            pair = f"{unquote(url.username or '')}:{unquote(url.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            self.base_url = urlunsplit(url._replace(netloc=url.netloc.rpartition("@")[2]))

    def _open(self) -> Pool:
        if self._pool is None:
            try:
                self._pool = Pool(f"{self.base_url}/chat/completions", self._headers, pool_size())
            except ValueError as exc:
                raise ConfigError(f"{self.spec}: {exc}") from None
        return self._pool

    async def chat(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        pool = self._open()
        try:
            answer = await pool.post(orjson.dumps(body), timeout)
        except asyncio.TimeoutError:
            raise BackendTimeout(f"{self.spec}: request timed out") from None
        except HttpError as exc:
            raise BackendUnavailable(f"{self.spec}: cannot connect: {redact(str(exc))}") from None
        raw, status = answer.body, answer.status
        reply = _json(raw)
        if status >= 400:
            error = reply.get("error") if isinstance(reply, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            wait = retry_after(answer.headers.get("retry-after"))
            raise StatusError(status, str(message or raw[:500].decode(errors="replace")), wait)
        if not isinstance(reply, dict):
            raise BackendUnavailable(f"{self.spec}: the reply is not a JSON object: {raw[:200]!r}")
        return reply

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


class Sdk(Transport):
    """The official ``openai.AsyncOpenAI`` client, with its default (httpx) transport."""

    def __init__(self, spec: str, base_url: str | None, api_key: str) -> None:
        super().__init__(spec, base_url, api_key)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The SDK's client, built on first use."""
        if self._client is None:
            import openai

            http = openai.DefaultAsyncHttpxClient
            self._client = openai.AsyncOpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                max_retries=0,
                http_client=http(limits=_limits(http, pool_size())),
            )
        return self._client

    async def chat(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        import openai

        try:
            reply = await self.client.chat.completions.create(**body, timeout=timeout)
        except openai.APIStatusError as exc:
            wait = retry_after(exc.response.headers.get("retry-after"))
            body = exc.body if isinstance(exc.body, dict) else {}
            raise StatusError(exc.status_code, str(body.get("message") or exc.message), wait) from None
        except openai.OpenAIError as exc:
            raise sdk_error(exc, self.spec, openai) from None
        dumped: dict[str, Any] = reply.model_dump()
        return dumped

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def transport(name: TransportName, spec: str, base_url: str | None, api_key: str) -> Transport:
    """The transport called ``name``."""
    return (Lean if name == "lean" else Sdk)(spec, base_url, api_key)


def _limits(client: type, connections: int) -> Any:
    """``Limits`` of ``connections``, all kept alive, from the HTTP library whose ``AsyncClient`` ``client`` extends
    (``httpx``; ``httpx2`` in newer SDKs)."""
    base = next(cls for cls in client.__mro__ if cls.__name__ == "AsyncClient")
    library = importlib.import_module(base.__module__.partition(".")[0])
    return library.Limits(max_connections=connections, max_keepalive_connections=connections)


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
