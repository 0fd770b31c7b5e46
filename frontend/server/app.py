"""The ASGI app (Starlette): OpenAI's chat and completion endpoints, /v1/models and /health, over a GenerationService.

Every error is OpenAI's error object (frontend/server/errors.py). Requests to /v1/ need the API
key when the server has one (`Authorization: Bearer KEY`, else 401); /health never does (load
balancers poll it). Once shutdown has begun, new requests get 503 and /health says "draining".
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from frontend.server.config import ServerConfig
from frontend.server.errors import APIError
from frontend.server.generation import Cancelled, Generated, Job
from frontend.server.requests import GenerationRequest, parse_request
from frontend.server.responses import chunk_body, completion_body, posterior_chunk, response_id
from frontend.server.service import GenerationService
from frontend.server.streaming import DONE, SettledText, sse

_DISCONNECT_POLL_SECONDS = 0.1


class ServerState:
    """What the routes share: the config, the service, when the server started and whether it is shutting down."""

    def __init__(self, config: ServerConfig, service: GenerationService):
        self.config, self.service = config, service
        self.started = int(time.time())
        self.draining = False


def create_app(llm: Any, config: ServerConfig) -> Starlette:
    """The app serving `llm` (a loaded LanguageModel) as `config.model_id`; `app.state.server` is its ServerState."""
    state = ServerState(config, GenerationService(llm, config))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        state.draining = True
        await asyncio.get_running_loop().run_in_executor(None, state.service.close)

    routes = [Route("/v1/chat/completions", _endpoint(state, "chat"), methods=["POST"]),
              Route("/v1/completions", _endpoint(state, "completion"), methods=["POST"]),
              Route("/v1/models", _models(state), methods=["GET"]),
              Route("/health", _health(state), methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, APIError: _api_error, Exception: _server_error})
    app.state.server = state
    return app


def _endpoint(state: ServerState, kind: str):
    async def endpoint(request: Request) -> Response:
        _check_open(state, request)
        body = await _json_body(request, state.config.limits.body_bytes)
        parsed = parse_request(body, kind, state.config)  # type: ignore[arg-type]
        constraint = await state.service.constraint(parsed.constraint)
        job = Job(parsed, constraint)
        if parsed.stream:
            return StreamingResponse(_stream(state, job), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        start = time.perf_counter()
        generated = await _until_done(state, request, job)
        if generated is None:  # the client left: nobody to answer
            return Response(status_code=499)
        body = completion_body(parsed, generated, model_id=state.config.model_id, identifier=response_id(parsed),
                               seconds=time.perf_counter() - start)
        return JSONResponse(body)

    return endpoint


async def _until_done(state: ServerState, request: Request, job: Job) -> Generated | None:
    """The job's result; None (the job cancelled) if the client disconnects first; the job cancelled if we are."""
    future = state.service.submit(job)
    try:
        while True:
            done, _ = await asyncio.wait({future}, timeout=_DISCONNECT_POLL_SECONDS)
            if done:
                return future.result()
            if await request.is_disconnected():
                job.cancel.set()
                return None
    except Cancelled:
        raise _cancelled() from None
    except asyncio.CancelledError:  # uvicorn's graceful-shutdown timeout cancels the handler
        job.cancel.set()
        raise


async def _stream(state: ServerState, job: Job) -> AsyncIterator[str]:
    """Server-sent events: the settled text of the leading particle as it grows, then the posterior, then [DONE]."""
    parsed, loop = job.request, asyncio.get_running_loop()
    identifier, model_id = response_id(parsed), state.config.model_id
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    settled: list[SettledText] = []

    def put(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def on_step(info: Any, owed: bytes) -> None:  # in the worker thread, after every SMC step
        if not settled:
            settled.append(SettledText(skip=len(owed)))
        delta = settled[0].update(info.particles())
        if delta:
            put(delta)

    job.on_step = on_step
    start = time.perf_counter()
    future = state.service.submit(job)
    future.add_done_callback(lambda _f: queue.put_nowait(None))
    try:
        yield sse(chunk_body(parsed, "", model_id=model_id, identifier=identifier, first=True))
        while (delta := await queue.get()) is not None:
            yield sse(chunk_body(parsed, delta, model_id=model_id, identifier=identifier))
        try:
            generated = future.result()
        except Exception as e:  # the headers are sent: the error is the stream's last event
            error = e if isinstance(e, APIError) else _cancelled() if isinstance(e, Cancelled) else \
                APIError(500, f"internal error: {type(e).__name__}: {e}")
            yield sse(error.body())
            yield DONE
            return
        body = completion_body(parsed, generated, model_id=model_id, identifier=identifier,
                               seconds=time.perf_counter() - start)
        top = _first_text(parsed, body)
        rest = settled[0].rest(top) if settled else top
        yield sse(chunk_body(parsed, rest, model_id=model_id, identifier=identifier, finish_reason="stop"))
        yield sse(posterior_chunk(parsed, body))
        yield DONE
    finally:
        job.cancel.set()  # a no-op once it finished; stops it at the next step if the client left


def _cancelled() -> APIError:
    return APIError(503, "the request was cancelled: the server is shutting down", code="cancelled")


def _first_text(parsed: GenerationRequest, body: dict) -> str:
    choice = body["choices"][0]
    return choice["message"]["content"] if parsed.kind == "chat" else choice["text"]


def _models(state: ServerState):
    async def models(request: Request) -> Response:
        _check_open(state, request)
        return JSONResponse({"object": "list", "data": [
            {"id": state.config.model_id, "object": "model", "created": state.started, "owned_by": "ppl"}]})

    return models


def _health(state: ServerState):
    async def health(_request: Request) -> Response:
        status = "draining" if state.draining else "ok"
        return JSONResponse({"status": status, "model": state.config.model_id, **state.service.health()},
                            status_code=503 if state.draining else 200)

    return health


def _check_open(state: ServerState, request: Request) -> None:
    """503 once shutdown has begun; 401 without the API key when the server has one."""
    if state.draining:
        raise APIError(503, "the server is shutting down; retry on another replica", code="shutting_down")
    key = state.config.api_key
    if key is None:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise APIError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                       code="invalid_api_key")


async def _json_body(request: Request, limit: int) -> Any:
    """The decoded JSON body; 413 past `limit` bytes (read no further), 400 if it is not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"the request body is {declared} bytes, over this server's limit of {limit}",
                       code="body_too_large")
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > limit:
            raise APIError(413, f"the request body is over this server's limit of {limit} bytes",
                           code="body_too_large")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise APIError(400, f"the request body is not valid JSON: {e}", code="invalid_json") from None


async def _api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, APIError)
    return JSONResponse(error.body(), status_code=error.status)


async def _http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse(APIError(error.status_code, error.detail or "", code=None).body(), status_code=error.status_code,
                        headers=getattr(error, "headers", None))


async def _server_error(_request: Request, error: Exception) -> Response:
    return JSONResponse(APIError(500, f"internal error: {type(error).__name__}: {error}").body(), status_code=500)
