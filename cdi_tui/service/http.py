"""The HTTP listener of ``cdi-tui serve --listen``: metrics, health and a trigger API.

- ``GET /metrics``: OpenMetrics text (:mod:`cdi_tui.service.metrics`).
- ``GET /healthz``: 200 with a JSON body while healthy, 503 with the reason otherwise.
- A trigger API shaped like Braze's CDI API, so an orchestrator that knows Braze's knows this:
  ``GET /cdi/integrations`` (10 a page, ``?cursor=``, a ``Link`` header),
  ``POST /cdi/integrations/{name}/sync`` (202 ``{"message": "success"}``; 429 ``Another job
  is in progress``), ``GET /cdi/integrations/{name}/job_sync_status`` (the newest runs first,
  10 a page). The integration's name stands where Braze has its id.

The trigger API always needs ``Authorization: Bearer <token>`` (``cdi-tui serve token --new``),
compared in constant time; ``/metrics`` needs it too when the listener is not on loopback.
``/healthz`` never does (a probe must reach it) and says nothing secret. Every error is a JSON
body ``{"message": ...}`` with a 4xx (or 503) status: never a traceback.

aiohttp serves it (already a dependency: httpx-aiohttp's transport), in an event loop of its
own thread; the handlers hand the run log's work to a thread pool.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cdi_tui.display import safe_text
from cdi_tui.fields import FieldError, is_loopback_host, validate_name

if TYPE_CHECKING:
    from cdi_tui.service.loop import Service

log = logging.getLogger("cdi_tui.serve")

MAX_BODY_BYTES = 16 * 1024
PAGE_SIZE = 10
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listen:
        host, _, port = text.rpartition(":")
        return cls(host.strip("[]"), int(port))

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=True),
        content_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json(status, {"message": message}, headers)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"skip:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The offset a cursor stands for (0 without one).

    Raises:
        ValueError: not a cursor this server made.
    """
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("Invalid cursor") from None
    word, _, number = text.partition(":")
    if word != "skip" or not number.isdigit() or len(number) > 9:
        raise ValueError("Invalid cursor")
    return int(number)


def _link(path: str, offset: int, total: int) -> dict[str, str]:
    links = []
    if offset > 0:
        links.append(f'<{path}?cursor={encode_cursor(max(0, offset - PAGE_SIZE))}>; rel="prev"')
    if offset + PAGE_SIZE < total:
        links.append(f'<{path}?cursor={encode_cursor(offset + PAGE_SIZE)}>; rel="next"')
    return {"Link": ",".join(links)} if links else {}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class HttpApi:
    """The aiohttp application and its handlers, over a :class:`~cdi_tui.service.loop.Service`."""

    def __init__(self, service: Service, listen: Listen, token: str | None) -> None:
        self.service = service
        self.listen = listen
        self._token = token

    # plumbing ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._errors, self._auth])
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/cdi/integrations", self.list_integrations)
        app.router.add_post("/cdi/integrations/{name}/sync", self.trigger_sync)
        app.router.add_get("/cdi/integrations/{name}/job_sync_status", self.job_sync_status)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every failure as a JSON ``{"message": ...}``; an unexpected one is logged, never shown."""
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            headers = {key: value for key, value in error.headers.items() if key in ("Allow", "WWW-Authenticate")}
            reason = error.reason
            if reason == HTTPStatus(error.status).phrase:  # aiohttp's own answer: say it in this API's words
                reason = {404: "Not found", 405: f"Method {safe_text(request.method)[:16]} not allowed here"}.get(
                    error.status, reason
                )
            return _error(error.status, reason, headers)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return _error(500, "Internal error; the service's log has the details")

    def _authorized(self, request: web.Request) -> bool:
        if self._token is None:
            return False
        given = request.headers.get("Authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "bearer":
            return False
        # compare_digest takes the same time whatever the first difference is
        return hmac.compare_digest(credentials.strip().encode("utf-8", "surrogateescape"), self._token.encode("utf-8"))

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        protected = request.path.startswith("/cdi/") or (request.path == "/metrics" and not self.listen.loopback)
        if protected and not self._authorized(request):
            challenge = {"WWW-Authenticate": 'Bearer realm="cdi-tui"'}
            if self._token is None:
                return _error(401, "No API token is set up; run 'cdi-tui serve token --new' and restart serve", challenge)
            return _error(401, "Invalid or missing bearer token", challenge)
        return await handler(request)

    async def _blocking(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, work)

    @staticmethod
    def _name(request: web.Request) -> str:
        try:
            return validate_name(request.match_info["name"])
        except FieldError:
            raise web.HTTPBadRequest(reason="Invalid integration ID") from None

    async def _no_body(self, request: web.Request) -> None:
        """The trigger takes no fields: an empty body or ``{}``; anything else is refused."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length)
        raw = await request.read()
        if not raw.strip():
            return
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise web.HTTPBadRequest(reason="The body is not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(reason="The body must be a JSON object")
        if body:
            raise web.HTTPBadRequest(reason=f"Unknown field(s): {', '.join(safe_text(key)[:40] for key in sorted(body)[:5])}")

    # endpoints -----------------------------------------------------------------------------
    async def metrics(self, request: web.Request) -> web.StreamResponse:
        from cdi_tui.service.metrics import CONTENT_TYPE, exposition

        payload = await self._blocking(lambda: exposition(self.service.registry))
        response = web.Response(body=payload)
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        report = await self._blocking(self.service.health)
        return _json(200 if report.healthy else 503, report.body)

    async def list_integrations(self, request: web.Request) -> web.StreamResponse:
        try:
            offset = decode_cursor(request.query.get("cursor"))
        except ValueError as error:
            raise web.HTTPBadRequest(reason=str(error)) from None
        results, total = await self._blocking(lambda: self.service.integrations_page(offset, PAGE_SIZE))
        return _json(200, {"results": results, "message": "success"}, _link("/cdi/integrations", offset, total))

    async def trigger_sync(self, request: web.Request) -> web.StreamResponse:
        name = self._name(request)
        await self._no_body(request)
        status, body = await self._blocking(lambda: self.service.trigger(name))
        return _json(status, body)

    async def job_sync_status(self, request: web.Request) -> web.StreamResponse:
        name = self._name(request)
        try:
            offset = decode_cursor(request.query.get("cursor"))
        except ValueError as error:
            raise web.HTTPBadRequest(reason=str(error)) from None
        found = await self._blocking(lambda: self.service.job_statuses(name, offset, PAGE_SIZE))
        if found is None:
            raise web.HTTPNotFound(reason="Integration not found")
        results, total = found
        path = f"/cdi/integrations/{name}/job_sync_status"
        return _json(200, {"results": results, "message": "success"}, _link(path, offset, total))


class HttpServer:
    """Runs an :class:`HttpApi` in an event loop of its own thread.

    Raises (from :meth:`start`):
        OSError: the address cannot be listened on (in use, not this machine's).
    """

    def __init__(self, api: HttpApi) -> None:
        self.api = api
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="cdi-tui-http", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._open())
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._close())
        self._loop.close()

    async def _open(self) -> None:
        self._runner = web.AppRunner(self.api.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.api.listen.host, self.api.listen.port, reuse_address=True)
        await site.start()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
