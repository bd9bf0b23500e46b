"""Analyses run in processes of their own, so that one cannot stall the requests beside it.

An analysis holds a CPU for up to seconds (the statistics, then building a GeoJSON document of
megabytes). Run in the service's worker, even in a thread, it takes the interpreter's lock from
every lookup and tile that worker serves: one hot-spot map made each dispatcher wait. Each app
therefore owns an :class:`AnalysisPool`: ``serving.analysis_workers`` processes of a
``ProcessPoolExecutor`` that run the analysis and render its JSON, at a lower CPU priority
(``serving.analysis_nice``) than the requests, and hand back the bytes of the answer.

- At most ``analysis_workers`` analyses run at once and ``analysis_queue`` more wait; beyond that
  the request is answered 503 with ``Retry-After`` at once rather than queued without bound.
- The processes come from a ``forkserver``: a clean process that has imported the analysis
  library once, and from which each pool process is forked in milliseconds. Nothing is forked
  from the service itself, which holds database connections and threads. Each pool process makes
  its own engine from the settings it is given, and is warmed (every statistical kernel run once
  on a small synthetic lattice) in its initializer, never on a user's request.
- The pool is made when the app starts serving for real (``start``), else on the first analysis
  asked of it: an app that is never asked for one (most of the test suite's) starts no process.
- An error raised in a pool process (a bad parameter found by the library) reaches the route as
  the same exception, with its message still translatable: :class:`~geo_service.i18n.Message`
  is pickled by its template and values.
- ``analysis_workers = 0`` runs analyses in the worker's own threads, as before the pool, with
  the same cap.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from geo_service.errors import Unavailable
from geo_service.i18n import Message, t
from geo_service.settings import Settings
from geo_service.startup_objects import freeze_startup_objects

logger = logging.getLogger(__name__)

# What a forked pool process finds already imported: the library, its statistics and the jobs.
PRELOAD = ["geo_service.api.analysis"]

# A job: ``job(engine, settings, **params)`` returning the JSON document of the answer. It must be
# a module-level function, pickled by its name.
Job = Callable[..., Any]


# -- inside a pool process ------------------------------------------------------------------------

_worker: dict[str, Any] = {}  # this process's settings, and how long warming it took


def _start_worker(settings: Settings, nice: int) -> None:
    """The pool process's initializer: lower its priority, keep its settings, warm it.

    Ctrl-C (SIGINT to the terminal's process group) and systemd's stop (SIGTERM to the unit's
    every process) are the service's to handle: it finishes the requests in flight, analyses
    among them, then stops this process through the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    _worker["settings"] = settings
    warm()
    freeze_startup_objects()


def warm() -> float:
    """Run every statistical kernel once on a small synthetic lattice, so that whatever compiles or
    loads on first use (esda's numba kernels when numba is installed, scipy's distributions) does
    so now, not on a user's request. Idempotent; returns the seconds it took the first time."""
    if "warm_s" in _worker:
        return _worker["warm_s"]
    started = time.perf_counter()
    try:
        import geopandas as gpd
        import numpy as np
        import shapely

        from geo_service.analysis.hotspots import gi_star
        from geo_service.analysis.weights import unit_weights, with_self

        side = 12
        boxes = [shapely.box(i, j, i + 1, j + 1) for i in range(side) for j in range(side)]
        graph, _ = unit_weights(gpd.GeoDataFrame(geometry=boxes, crs=4544), "grid")
        values = np.random.default_rng(0).poisson(5, side * side)
        gi_star(values, with_self(graph), inference="permutation", permutations=99)
        gi_star(values, with_self(graph))
    except Exception:  # a failed warm-up only costs speed: the first request warms instead
        logger.exception("warming the analysis process failed")
    _worker["warm_s"] = time.perf_counter() - started
    logger.info("analysis process %d warmed in %.2f s", os.getpid(), _worker["warm_s"])
    return _worker["warm_s"]


def _run(job: Job, params: dict[str, Any], settings: Settings | None = None) -> bytes:
    """Run ``job`` and render its document as the API's JSON, here rather than in the service:
    for a map of thousands of features the rendering costs as much as the statistics."""
    from geo_service.db.engine import engine_for

    settings = settings or _worker["settings"]
    document = job(engine_for(settings), settings, **params)
    # orjson: a 12 MB map of hexagons in a tenth of the standard library's time, the same JSON.
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def _ready() -> float:
    """A task that only makes the pool start (and warm) its process."""
    return _worker.get("warm_s", 0.0)


# -- in the service -------------------------------------------------------------------------------


class AnalysisPool:
    """The app's analysis processes, their cap, and what to answer when it is reached."""

    def __init__(self, settings: Settings) -> None:
        serving = settings.serving
        self.settings = settings
        self.workers = serving.analysis_workers
        self.capacity = max(self.workers, 1) + serving.analysis_queue
        self._slots = threading.BoundedSemaphore(self.capacity)
        self.admitted = 0  # analyses running or waiting now
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._typical_s = 1.0  # a running average of how long an analysis takes, for Retry-After

    @property
    def started(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        """Make the processes now (and warm them), rather than on the first analysis asked."""
        executor = self._pool()
        if executor is not None:
            for _ in range(self.workers):
                executor.submit(_ready)

    def _pool(self) -> ProcessPoolExecutor | None:
        if self.workers == 0:
            return None
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)  # only the forkserver's first start reads it
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=context,
                    initializer=_start_worker,
                    initargs=(self.settings, self.settings.serving.analysis_nice),
                )
            return self._executor

    def _retry_after(self) -> int:
        return max(1, math.ceil(self._typical_s * self.capacity / max(self.workers, 1)))

    @staticmethod
    def _busy(message: Message, wait: int) -> Unavailable:
        return Unavailable(message, field=None, retry_after=wait)

    async def run(self, job: Job, **params: Any) -> bytes:
        """The JSON body of ``job``'s answer, made in a pool process; 503 when the pool is full."""
        if not self._slots.acquire(blocking=False):
            wait = self._retry_after()
            raise self._busy(
                t(
                    "{capacity} analyses are already running or waiting, as many as the service takes at once; "
                    "retry in {wait} s",
                    capacity=self.capacity,
                    wait=wait,
                ),
                wait,
            )
        started = time.perf_counter()
        with self._lock:
            self.admitted += 1
        try:
            executor = self._pool()
            if executor is None:
                body = await run_in_threadpool(_run, job, params, self.settings)
            else:
                try:
                    body = await asyncio.wrap_future(executor.submit(_run, job, params))
                except BrokenProcessPool:
                    self._replace(executor)
                    wait = self._retry_after()
                    raise self._busy(
                        t("the analysis process stopped unexpectedly; retry in {wait} s", wait=wait), wait
                    ) from None
            self._typical_s = 0.8 * self._typical_s + 0.2 * (time.perf_counter() - started)
            return body
        finally:
            with self._lock:
                self.admitted -= 1
            self._slots.release()

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A pool process died (killed, out of memory): the executor is broken for good, so the
        next analysis makes a new one."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes (at the app's shutdown, when the requests in flight are done); an
        analysis asked afterwards would start them again."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
