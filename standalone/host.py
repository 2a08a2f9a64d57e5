"""The standalone host: runs `function_app.py` unchanged on one machine, without Azure.

Start-up order: settings -> host.json -> storage (the embedded database when none is
configured) -> import the app -> Durable engine (resumes unfinished orchestrations) -> HTTP ->
timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from common.storage import Storage
from standalone.app_loader import AppIndex, load_app
from standalone.dashboard_files import DashboardFiles
from standalone.durable.client import DurableClient
from standalone.durable.engine_process import EngineOptions, EngineProcess
from standalone.durable.store import DurableStore
from standalone.durable.webhooks import DurableHttpApi
from standalone.host_config import HostConfig, load_host_config
from standalone.http_triggers import (
    MAX_REQUEST_BYTES,
    HttpTriggers,
    client_binding_json,
    json_error,
)
from standalone.keys import HostKeys, load_or_create_keys
from standalone.settings import apply_settings
from standalone.store_location import StoreLocation, choose_store
from standalone.timer_triggers import TimerTriggers

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = ".standalone"
DEFAULT_DASHBOARD_DIR = "dashboard"
DEFAULT_WORKER_THREADS = 32


@dataclass
class HostOptions:
    app_dir: Path
    host: str = "127.0.0.1"
    port: int = 7071
    data_dir: Path | None = None
    dashboard_dir: Path | None = None

    @property
    def data_path(self) -> Path:
        return (self.data_dir or self.app_dir / DEFAULT_DATA_DIR).resolve()

    @property
    def dashboard_path(self) -> Path:
        return (self.dashboard_dir or self.app_dir / DEFAULT_DASHBOARD_DIR).resolve()


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Errors raised by the HTTP layer itself (no route, bad method, body too large) as JSON."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return json_error(exc.status, code, exc.reason)


class StandaloneHost:
    """Owns every running part; `start()` then `stop()`."""

    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.storage: Storage | None = None
        self.engine: EngineProcess | None = None
        self.store: DurableStore | None = None
        self.timers: TimerTriggers | None = None
        self.runner: web.AppRunner | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.port = options.port
        self.config: HostConfig | None = None
        self.keys: HostKeys | None = None
        self.index: AppIndex | None = None
        self._api: DurableHttpApi | None = None

    @property
    def local_origin(self) -> str:
        host = self.options.host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def client_binding(self) -> str:
        assert self.config is not None and self.keys is not None and self._api is not None
        return client_binding_json(
            self.local_origin,
            self._api.rpc_base_url(self.local_origin),
            self.config.hub_name,
            self.keys.system_key,
        )

    async def start(self) -> None:
        options = self.options
        app_dir = options.app_dir.resolve()
        data_dir = options.data_path
        data_dir.mkdir(parents=True, exist_ok=True)
        apply_settings(app_dir)
        self.config = config = load_host_config(app_dir)
        location: StoreLocation = await asyncio.to_thread(
            choose_store, config.storage_setting, data_dir
        )
        self.storage = storage = location.open()
        self.keys = load_or_create_keys(data_dir)
        # The engine (episodes, activity workers) runs in its own process; this one serves
        # HTTP and answers client calls from storage, telling the engine what it stored.
        # Launched first: it and its workers import the app while this process does.
        self.engine = EngineProcess(
            EngineOptions(
                app_dir=str(app_dir),
                store=location,
                hub_name=config.hub_name,
                max_orchestrators=config.max_orchestrators,
                max_activities=config.max_activities,
                worker_processes=int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or 1),
                refuse_running_instances=config.refuse_running_instances,
                log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
            )
        )
        self.engine.launch()  # from the main thread: the engine dies with it
        self.index = index = load_app(app_dir)
        for entry in index.unsupported:
            log.warning("function %s (%s) is not supported here", entry.name, entry.trigger_type)

        threads = int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or DEFAULT_WORKER_THREADS)
        self.executor = ThreadPoolExecutor(max(1, threads), thread_name_prefix="function")
        # asyncio.to_thread in async functions uses the worker's thread pool, as in Azure.
        asyncio.get_running_loop().set_default_executor(self.executor)
        self.engine.wait_ready()
        self.store = DurableStore(storage, config.hub_name)
        await self.store.open()
        client = DurableClient(
            self.store, set(index.orchestrators), self.engine.send, config.refuse_running_instances
        )

        app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[json_errors])
        self._api = DurableHttpApi(client, config.hub_name, self.keys.system_key)
        self._api.add_routes(app)
        triggers = HttpTriggers(
            index.http,
            config.route_prefix,
            self.keys.function_key,
            self.client_binding,
            self.executor,
        )
        prefix = f"/{triggers.prefix}" if triggers.prefix else ""
        # [\s\S]: a path may hold an encoded newline; it still belongs to the functions.
        app.router.add_route("*", prefix + r"/{tail:[\s\S]*}", triggers.handle)
        dashboard = DashboardFiles(options.dashboard_path)
        if prefix and dashboard.available:
            # After the functions' routes: /api/... always reaches the functions.
            dashboard.add_routes(app)
            log.info("dashboard: %s/ (files in %s)", self.local_origin, dashboard.root)
        # Long URLs and headers reach the functions (which answer JSON) instead of failing in
        # the HTTP parser with a plain-text 400.
        self.runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            max_line_size=65536,
            max_field_size=65536,
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, options.host, options.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        for line in triggers.describe():
            log.info("http function: %s", line)
        log.info(
            "orchestrators: %s; activities: %s",
            ", ".join(sorted(index.orchestrators)) or "none",
            ", ".join(sorted(index.activities)) or "none",
        )

        status_table = await asyncio.to_thread(storage.table, "StandaloneTimerStatus")
        self.timers = TimerTriggers(
            index.timers,
            status_table,
            config.hub_name,
            self.client_binding,
            self.executor,
        )
        await self.timers.start()
        log.info(
            "standalone host listening on %s (task hub %s)", self.local_origin, config.hub_name
        )

    async def stop(self) -> None:
        """Stop timers, HTTP, the engine and storage, in that order; each step bounded."""
        if self.timers is not None:
            await self.timers.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.engine is not None:
            self.engine.stop()
        if self.store is not None:
            with contextlib.suppress(Exception):
                await self.store.close()
        with contextlib.suppress(Exception):
            from azure.durable_functions.models.utils import http_utils

            await http_utils._close_session()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.storage is not None:
            self.storage.close()
