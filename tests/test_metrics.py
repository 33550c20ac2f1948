"""The Prometheus endpoint (issue 11.5): scraped over HTTP after a file was processed,
parsed with prometheus_client's own parser; a taken port refused at start."""

from __future__ import annotations

import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemonkit import Inbox, account_row, row
from profilesync.config import ConfigError, Settings, metrics_address
from servicekit import daemon_config, start_daemon, wait_for

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metrics_config(tmp: Path, url: str, port: int) -> Path:
    """The daemon tests' configuration, with the endpoint on `port`."""
    config = daemon_config(tmp, url)
    with config.open("a", encoding="utf-8") as fh:
        fh.write(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    return config


def scrape(port: int) -> Samples:
    """name, sorted labels → value, for every sample the endpoint serves."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Inbox, int]]:
    """A daemon in burst mode with its metrics endpoint up on a free loopback port."""
    port = free_port()
    world = Inbox(db_url, tmp_path, metrics={"listen": f"127.0.0.1:{port}"})
    assert world.daemon.metrics.serve() is not None
    yield world, port
    world.daemon.metrics.stop()
    world.close()


def test_scrape_after_a_file_counts_it_and_shows_the_shared_state(
    served: tuple[Inbox, int],
) -> None:
    box, port = served
    before = scrape(port)
    assert before[("profilesync_lines_processed_total", (("code", "OK"),))] == 0
    assert ("profilesync_files_processed_total", (("status", "done"),)) not in before

    weak_password = account_row(3, password="abc")  # ERREUR: below the password policy
    box.drop("equipe.csv", [account_row(1), account_row(2), weak_password])
    box.settle()
    assert len(box.reports()) == 1

    after = scrape(port)
    assert after[("profilesync_files_processed_total", (("status", "done"),))] == 1
    assert after[("profilesync_lines_processed_total", (("code", "OK"),))] == 2
    assert after[("profilesync_lines_processed_total", (("code", "ERREUR"),))] == 1
    assert after[("profilesync_lines_processed_total", (("code", "ALERTE"),))] == 0
    assert after[("profilesync_run_duration_seconds_count", ())] == 1
    assert after[("profilesync_up", ())] == 1
    assert after[("profilesync_database_up", ())] == 1
    assert after[("profilesync_inbox_files_waiting", ())] == 0
    assert after[("profilesync_reports_waiting", ())] == 0
    assert after[("profilesync_runs_awaiting_approval", ())] == 0
    # No directory configured: the two new accounts wait in the queue, none is parked.
    queued = box.scalar("SELECT count(*) FROM directory_change")
    backlog = {
        state: after[("profilesync_directory_backlog", (("state", state),))]
        for state in ("due", "waiting", "parked")
    }
    assert queued > 0
    assert sum(backlog.values()) == queued
    assert backlog["parked"] == 0
    assert ("profilesync_directory_reachable", ()) not in after  # no [ldap] url: no claim
    # The burst ran the due jobs: validity succeeded, at the fixed clock's time.
    validity = ("profilesync_job_last_success_timestamp_seconds", (("job", "validity"),))
    assert after[validity] == box.clock.now().timestamp()
    assert after[("profilesync_job_failing", (("job", "validity"),))] == 0


def test_a_running_daemon_process_serves_its_counts(db_url: str, tmp_path: Path) -> None:
    """The real `profilesync run`, scraped over HTTP while it runs."""
    world = Inbox(db_url, tmp_path)
    port = free_port()
    config = metrics_config(tmp_path, db_url, port)
    proc = start_daemon(config)
    last: Samples = {}

    def counted() -> bool:
        nonlocal last
        try:
            last = scrape(port)
        except (urllib.error.URLError, ConnectionError):
            return False  # not listening yet
        return last.get(("profilesync_files_processed_total", (("status", "done"),))) == 1

    try:
        world.drop("equipe.csv", [account_row(1)])
        wait_for(counted, "the file counted by the endpoint")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
        world.close()
    assert proc.returncode == 0, err
    assert last[("profilesync_lines_processed_total", (("code", "OK"),))] == 1
    assert last[("profilesync_daemons_alive", ())] == 1
    assert last[("profilesync_inbox_files_waiting", ())] == 0


def test_held_file_is_counted_and_shown_awaiting_approval(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    box = Inbox(
        db_url,
        tmp_path,
        metrics={"listen": f"127.0.0.1:{port}"},
        imports={"mass_delete_min": 1, "mass_delete_share": 0.1},
    )
    box.daemon.metrics.serve()
    try:
        box.drop("cree.csv", [account_row(1), account_row(2)])
        box.settle()
        box.drop("supprime.csv", [row("S", "Nom1", "Prenom1", ident="user1")])
        box.settle()
        samples = scrape(port)
    finally:
        box.daemon.metrics.stop()
        box.close()
    held = ("profilesync_files_processed_total", (("status", "awaiting_approval"),))
    assert samples[held] == 1
    assert samples[("profilesync_runs_awaiting_approval", ())] == 1


def test_a_taken_port_stops_the_daemon_at_start_with_one_clear_error(
    db_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = metrics_config(tmp_path, db_url, port)
        proc = start_daemon(config)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1] == (
        f"error: cannot serve metrics on 127.0.0.1:{port} ([metrics] listen): "
        "Address already in use; free the port or choose another"
    )


@pytest.mark.parametrize(
    ("listen", "expected"),
    [("", None), ("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9464", ("::1", 9464))],
)
def test_listen_address(listen: str, expected: tuple[str, int] | None) -> None:
    settings = Settings().with_overrides(metrics={"listen": listen})
    assert metrics_address(settings) == expected


@pytest.mark.parametrize("listen", ["9464", "localhost", "127.0.0.1:", "127.0.0.1:99999", ":80"])
def test_malformed_listen_is_a_configuration_error(listen: str) -> None:
    settings = Settings().with_overrides(metrics={"listen": listen})
    with pytest.raises(ConfigError) as caught:
        metrics_address(settings)
    assert str(caught.value) == (
        f'[metrics] listen must be "host:port", e.g. "127.0.0.1:9464", got {listen!r}'
    )


def test_an_unreachable_directory_shows_as_zero_and_its_job_failing(
    db_url: str, tmp_path: Path
) -> None:
    port, closed = free_port(), free_port()  # nothing listens on `closed`
    box = Inbox(
        db_url,
        tmp_path,
        metrics={"listen": f"127.0.0.1:{port}"},
        ldap={"url": f"ldap://127.0.0.1:{closed}", "base_dn": "dc=example,dc=org"},
    )
    box.daemon.metrics.serve()
    try:
        box.drop("equipe.csv", [account_row(1)])
        box.settle()
        box.clock.advance(timedelta(minutes=1))  # directory_sync due again, a change queued
        box.daemon.run_once()  # it cannot connect
        samples = scrape(port)
    finally:
        box.daemon.metrics.stop()
        box.close()
    assert samples[("profilesync_directory_reachable", ())] == 0
    assert samples[("profilesync_job_failing", (("job", "directory_sync"),))] == 1
    sync_ok = ("profilesync_job_last_success_timestamp_seconds", (("job", "directory_sync"),))
    assert sync_ok not in samples
    assert samples[("profilesync_directory_backlog", (("state", "parked"),))] == 0
