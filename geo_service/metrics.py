"""What Prometheus scrapes from the service (``GET /metrics``), with ``prometheus-client``.

Requests are counted as they are served (by route template, never by raw path, so ids do not
multiply the series); the database's state is read when scraped: the connection pool, the
outbox's backlog and its oldest message, the cases past their deadline by tier. Those queries
run on the indexes that serve the same questions elsewhere (``ix_outbox_pending``,
``ix_incidents_status_deadline``) under a short statement timeout, so a scrape stays cheap and a
slow or absent database makes ``geo_service_database_up`` 0 instead of a failed scrape.

Each app has its own registry: several apps in one process (tests) do not mix their counts. With
``--workers N`` each worker counts its own requests; the database figures are the same in all.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from geo_service.cases.outbox import MAX_ATTEMPTS
from geo_service.cases.states import HANDLING
from geo_service.vocabulary import TIERS

# Seconds: lookups answer in milliseconds, analyses and imports in seconds to minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SCRAPE_TIMEOUT_MS = 2000

_OUTBOX = text("""
    SELECT count(*) FILTER (WHERE attempts < :max) AS pending,
           count(*) FILTER (WHERE attempts >= :max) AS given_up,
           coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE attempts < :max)), 0) AS oldest_s
      FROM outbox WHERE sent_at IS NULL
""")
_OVERDUE = text("""
    SELECT tier, count(*) FROM incidents
     WHERE status IN :handling AND deadline < now()
     GROUP BY tier
""").bindparams(bindparam("handling", expanding=True))


class DatabaseCollector(Collector):
    """The pool, the outbox and overdue cases, read at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.pool
        size = getattr(pool, "size", lambda: 0)()
        checked_out = getattr(pool, "checkedout", lambda: 0)()
        yield GaugeMetricFamily("geo_service_db_pool_size", "Connections the pool keeps open.", value=size)
        yield GaugeMetricFamily(
            "geo_service_db_pool_checked_out", "Connections lent to requests now.", value=checked_out
        )
        up = GaugeMetricFamily("geo_service_database_up", "1 when the scrape's queries were answered.")
        try:
            with self.engine.begin() as connection:
                connection.execute(text(f"SET LOCAL statement_timeout = {SCRAPE_TIMEOUT_MS}"))
                outbox = connection.execute(_OUTBOX, {"max": MAX_ATTEMPTS}).mappings().one()
                overdue = dict(connection.execute(_OVERDUE, {"handling": sorted(HANDLING)}).all())
        except SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "geo_service_outbox_pending", "Notifications waiting to be sent (or retried).", value=outbox["pending"]
        )
        yield GaugeMetricFamily(
            "geo_service_outbox_given_up",
            f"Notifications that failed {MAX_ATTEMPTS} times and are no longer tried.",
            value=outbox["given_up"],
        )
        yield GaugeMetricFamily(
            "geo_service_outbox_oldest_pending_seconds",
            "Age of the oldest notification waiting (0 when none waits).",
            value=float(outbox["oldest_s"]),
        )
        cases = GaugeMetricFamily(
            "geo_service_cases_overdue", "Cases being handled past their deadline, by tier.", labels=["tier"]
        )
        for tier in TIERS:
            cases.add_metric([tier], overdue.get(tier, 0))
        yield cases


class ServiceMetrics:
    """One app's metrics: its request counters and the database collector, in a registry of its own."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "geo_service_http_requests",
            "Requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "geo_service_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Imports and other long work show here while they run.
        self.in_flight = Gauge(
            "geo_service_http_requests_in_flight", "Requests being answered now.", registry=self.registry
        )
        self.registry.register(DatabaseCollector(engine))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
