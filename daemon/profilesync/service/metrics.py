"""Prometheus metrics of a daemon (issue 11.5), served over HTTP when [metrics] listen is set.

Two kinds, on purpose:

- **counters** of what this process did (files and lines processed, run durations), bumped
  by the daemon loop after each file: they only go up and reset with the process, which is
  what Prometheus' `rate()` expects;
- **gauges** of the state every process shares (what waits for approval, the directory
  backlog, the jobs, the inbox), computed at scrape time by `status.gather` — the very
  function `profilesync status` uses — so that two daemons, or a daemon and `status`,
  never disagree about the same database and folders.

Passwords and personal data never reach a metric: labels are statuses, codes and job
names only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from profilesync.clock import Clock
from profilesync.config import Settings, metrics_address
from profilesync.errors import ProfilesyncError
from profilesync.service import status
from profilesync.store.model import ImportRun

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from profilesync.service.driver import FileResult

log = logging.getLogger(__name__)

PREFIX = "profilesync"
# A run takes from a second (a few lines) to half an hour (100,000 lines with passwords).
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LINE_CODES = ("OK", "ALERTE", "ERREUR")


class MetricsUnavailable(ProfilesyncError):
    """The metrics endpoint cannot listen where [metrics] listen says."""


class StatusCollector(Collector):
    """The shared state, read at each scrape through `status.gather`."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], clock: Clock
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        try:
            report = status.gather(self.settings, self.session_factory, self.clock)
        except Exception:  # a scrape must answer, whatever the state folder holds
            log.exception("metrics: could not gather the status")
            yield _gauge("up", "1 when the status could be gathered.", 0)
            return
        yield _gauge("up", "1 when the status could be gathered.", 1)
        yield _gauge(
            "database_up",
            "1 when the database answers with the expected schema.",
            int(report.database_error is None),
        )
        yield _gauge(
            "daemons_alive",
            "Daemons whose heartbeat is fresh.",
            sum(1 for d in report.daemons if d["alive"]),
        )
        yield _gauge(
            "inbox_files_waiting",
            "Files in the inbox not yet claimed.",
            sum(report.inbox_waiting.values()),
        )
        yield _gauge(
            "reports_waiting",
            "Runs done whose report could not be delivered yet (outbox full or unwritable).",
            report.reports_waiting,
        )
        yield _gauge(
            "runs_awaiting_approval",
            "Runs held by the mass-deletion guard until `profilesync approve`.",
            report.awaiting_approval,
        )
        if report.database_error is not None:
            return  # the rest comes from the database: absent rather than a false zero
        backlog = GaugeMetricFamily(
            f"{PREFIX}_directory_backlog",
            "Directory changes queued: due now, waiting for a retry, parked (need a human).",
            labels=["state"],
        )
        for state in ("due", "waiting", "parked"):
            backlog.add_metric([state], report.directory.get(state, 0))
        yield backlog
        # The sync worker's own verdict (directory/health.py), as `status` shows it.
        reachable = {"ok": 1, "UNREACHABLE": 0}.get(report.directory_state)
        if reachable is not None:
            yield _gauge(
                "directory_reachable",
                "1 when the directory answered the last bind, 0 during an outage.",
                reachable,
            )
        yield from self._jobs(report)

    def _jobs(self, report: status.Status) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            f"{PREFIX}_job_last_success_timestamp_seconds",
            "Unix time a job last finished with success (absent: not since its last failure).",
            labels=["job"],
        )
        failing = GaugeMetricFamily(
            f"{PREFIX}_job_failing",
            "1 when the last run of a job failed.",
            labels=["job"],
        )
        for job in report.jobs:
            failing.add_metric([job["name"]], int(job["last_status"] == "failed"))
            if job["last_status"] == "ok" and job["last_finished_at"]:
                finished = datetime.fromisoformat(job["last_finished_at"]).timestamp()
                success.add_metric([job["name"]], finished)
        yield success
        yield failing


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, value=value)


class Metrics:
    """One per daemon: its counters, the status collector, and the endpoint once served."""

    def __init__(
        self, settings: Settings, session_factory: sessionmaker[Session], clock: Clock
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.registry = CollectorRegistry(auto_describe=True)
        self.files = Counter(
            f"{PREFIX}_files_processed",
            "Files processed by this daemon, by the run's final status.",
            ["status"],
            registry=self.registry,
        )
        self.lines = Counter(
            f"{PREFIX}_lines_processed",
            "Lines of the files processed by this daemon, by report code.",
            ["code"],
            registry=self.registry,
        )
        for code in LINE_CODES:  # present at 0 from the start: rate() needs a first sample
            self.lines.labels(code)
        self.duration = Histogram(
            f"{PREFIX}_run_duration_seconds",
            "Wall time of a run, from its start to its report.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StatusCollector(settings, session_factory, clock))
        self.server: WSGIServer | None = None

    def file_done(self, result: FileResult) -> None:
        """Count a file the daemon drove; never lets a metrics problem reach the loop."""
        try:
            with self.session_factory() as session:
                run = session.get(ImportRun, result.run_id)
                counts = (run.ok, run.alerte, run.erreur) if run else (0, 0, 0)
                took = (
                    (run.finished_at - run.started_at).total_seconds()
                    if run and run.finished_at and run.started_at
                    else None
                )
        except Exception:
            log.exception("metrics: could not read run %s", result.run_id)
            return
        self.files.labels(result.status).inc()
        for code, count in zip(LINE_CODES, counts, strict=True):
            self.lines.labels(code).inc(count or 0)
        if took is not None:
            self.duration.observe(max(took, 0.0))

    def serve(self) -> WSGIServer | None:
        """Start the endpoint if [metrics] listen is set; `MetricsUnavailable` if it cannot
        listen there, so that the operator learns it at start, not from a silent graph."""
        address = metrics_address(self.settings)
        if address is None:
            return None
        host, port = address
        try:
            self.server, _thread = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            raise MetricsUnavailable(
                f"cannot serve metrics on {host}:{port} ([metrics] listen): "
                f"{exc.strerror or exc}; free the port or choose another"
            ) from None
        log.info("metrics served on http://%s:%d/metrics", host, port)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
