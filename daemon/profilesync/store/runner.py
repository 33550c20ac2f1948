"""Applying one run: survey the file, hold mass deletions, apply batches, record outcomes.

Exactly-once: each batch's effects, its `line_outcome` rows, audit rows and queued directory
changes commit in one transaction, so a run killed at any point resumes at the first line
without an outcome. Lines of a batch are decided against an in-memory snapshot of the state
they touch (`batchstate`), written in bulk; if that write fails, the batch is rolled back and
replayed one line per savepoint so that a single bad line cannot block the file.
"""

from __future__ import annotations

import gc
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from profilesync.clock import Clock, today
from profilesync.config import Settings
from profilesync.fileformat import messages
from profilesync.fileformat.columns import ACTION, ET, IDENTIFIANT, MASK
from profilesync.fileformat.csvfile import FileRejected, read_rows
from profilesync.fileformat.lines import Action, Checked
from profilesync.fileformat.outcome import Code, Outcome, Problem, Summary
from profilesync.fileformat.report import ReportWriter
from profilesync.fileformat.rules import check_row
from profilesync.secret import Secret
from profilesync.store.actions import Context, apply
from profilesync.store.batchstate import PROFILE, BatchState, load_establishments
from profilesync.store.model import (
    Establishment,
    ImportRun,
    LineOutcome,
    ProfileState,
    Referent,
    ReferentEstablishment,
    RunStatus,
)

OUTCOME = cast(sa.Table, LineOutcome.__table__)
# Cells go as JSON text: sqlite3 stores it as is; psycopg sends str untyped, so PostgreSQL
# casts it to the json column.
_INSERT_OUTCOME = (
    "INSERT INTO line_outcome (run_id, line, code, messages, cells) "
    "VALUES ({m}, {m}, {m}, {m}, {m})"
)
_SELECT_OUTCOMES = sa.text(
    "SELECT line, code, messages, cells FROM line_outcome WHERE run_id = :run ORDER BY line"
)
Progress = Callable[[int, int], None]
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _json_cells(cells: tuple[str, ...]) -> str:
    """`json.dumps(list(cells))`, the same text, without the encoder's per-call setup."""
    return "[" + ", ".join(map(_encode_str, cells)) + "]"


class RunProcessor:
    """The state of one run being applied; `dry` turns every commit into a savepoint."""

    def __init__(  # noqa: PLR0917 - private, two call sites
        self,
        session: Session,
        run: ImportRun,
        settings: Settings,
        clock: Clock,
        hash_fn: Callable[[Secret], Future[str]],
        progress: Progress | None,
        *,
        dry: bool = False,
        path: Path | None = None,
        report: ReportWriter | None = None,
    ) -> None:
        self.session = session
        self.run_row = run
        self.settings = settings
        self.clock = clock
        self.progress = progress
        self.dry = dry
        self._hash_fn = hash_fn
        self.path = path or Path(run.work_path or "")
        self._report = report
        # Whether every outcome of the run went to `report` as it was committed: only when
        # this process applied the run from its first line (else the caller re-reads them).
        self.streamed = False
        # Hashes of C lines' passwords, submitted as soon as a batch is checked, before any
        # transaction is open (keyed by the Secret's id; the Secret is kept alive with it).
        self._prehashed: dict[int, tuple[Secret, Future[str]]] = {}

    def _hash(self, secret: Secret) -> Future[str]:
        """The store's hash function: the speculative future when there is one."""
        found = self._prehashed.pop(id(secret), None)
        if found is not None and found[0] is secret:
            return found[1]
        return self._hash_fn(secret)

    def _prehash(self, batch: list[Checked]) -> None:
        for checked in batch:
            line = checked.line
            if line is not None and line.password is not None and line.action is Action.CREATE:
                self._prehashed[id(line.password)] = (line.password, self._hash_fn(line.password))

    def _await_hashes(self, batch: list[Checked]) -> None:
        """Wait for a batch's hashes *outside* any transaction.

        On SQLite every transaction takes the write lock (BEGIN IMMEDIATE): waiting for
        argon2 inside one would lock the directory worker out of the queue for the whole
        import. A C line for an account that already exists wastes its hash; that is rare
        next to the lock.
        """
        if not self.dry and self.session.in_transaction():
            self.session.commit()  # only reads are pending here: the batch's own come next
        for checked in batch:
            line = checked.line
            if line is not None and line.password is not None:
                found = self._prehashed.get(id(line.password))
                if found is not None:
                    found[1].exception()  # waits; an error surfaces where the store reads it

    def _commit(self) -> None:
        if self.dry:
            self.session.flush()
        else:
            self.session.commit()

    def run(self) -> None:
        with _young_gc_relaxed():
            self._run()

    def _run(self) -> None:
        run = self.run_row
        allowed = self._allowed()
        if allowed is None and run.status == RunStatus.RUNNING:
            # Removed while its file was half applied: the rest is refused line by line,
            # the lines already applied stay (a run is never half rejected).
            allowed = frozenset()
        if allowed is None:
            return self._reject(messages.unknown_submitter(run.submitter))
        try:
            total, deletions = self._survey()
        except FileRejected as exc:
            return self._reject(exc.reason)
        if run.status == RunStatus.CLAIMED and run.approved_by is None:
            held = self._mass_deletions(deletions, allowed)
            if held:
                shares = ", ".join(
                    messages.deletion_share(n, active, et)
                    for et, (n, active) in sorted(held.items())
                )
                run.hold(messages.awaiting_approval(run.id, shares))
                return self._commit()
        if run.status != RunStatus.RUNNING:
            run.start(self.clock.now())
            self._commit()
        self._apply_all(allowed, total)
        now = self.clock.now()
        run.complete(self._counts(), now)
        return self._commit()

    def _reject(self, reason: str) -> None:
        self.run_row.reject(reason, self.clock.now())
        self._commit()

    def _allowed(self) -> frozenset[int] | None:
        """Ids of the establishments the submitter is référent of; None for a stranger.

        The submitter must be the login exactly: a folder `JDUPONT/` or `jdupont /` that only
        resembles one is a stranger (SPEC §6), whoever managed to create it. The operator's
        `import --as` is the one place a typed login is normalised, in the CLI.
        """
        referent = self.session.scalar(
            sa.select(Referent.id).where(Referent.login == self.run_row.submitter)
        )
        if referent is None:
            return None
        ids = self.session.scalars(
            sa.select(ReferentEstablishment.establishment_id).where(
                ReferentEstablishment.referent_id == referent
            )
        )
        return frozenset(ids)

    def _survey(self) -> tuple[int, Counter[str]]:
        """Read the whole file once before applying anything: limits, rows, S lines per ET."""
        total = 0
        deletions: Counter[str] = Counter()
        for row in read_rows(self.path, self.settings.limits):
            total += 1
            if row.cells[ACTION].strip().upper() == "S":
                et = row.cells[ET].strip()
                deletions[et.zfill(9) if len(et) == 8 else et] += 1
        return total, deletions

    def _mass_deletions(
        self, deletions: Counter[str], allowed: frozenset[int]
    ) -> dict[str, tuple[int, int]]:
        """ETs whose S lines would remove too large a share of their active profiles.

        Only the submitter's establishments count: S lines for any other ET are ERREUR
        line by line and delete nothing, so they must not hold the file.
        """
        policy = self.settings.imports
        ids = load_establishments(self.session.connection())
        held: dict[str, tuple[int, int]] = {}
        for et, n in deletions.items():
            est = ids.get(et)
            if n < policy.mass_delete_min or est is None or est.id not in allowed:
                continue
            active = self.session.scalar(
                sa.select(sa.func.count())
                .select_from(PROFILE.join(Establishment.__table__))
                .where(Establishment.et == et, PROFILE.c.state == ProfileState.ACTIVE.value)
            )
            active = active or 0
            if n > policy.mass_delete_share * active:
                held[et] = (n, active)
        return held

    def _apply_all(self, allowed: frozenset[int], total: int) -> None:
        conn = self.session.connection()
        run = self.run_row
        done_up_to = self.session.scalar(
            sa.select(sa.func.max(OUTCOME.c.line)).where(OUTCOME.c.run_id == run.id)
        )
        done_up_to = done_up_to or 0
        done = self.session.scalar(
            sa.select(sa.func.count()).select_from(OUTCOME).where(OUTCOME.c.run_id == run.id)
        )
        done = done or 0
        self.streamed = self._report is not None and done == 0
        ctx = Context(
            actor=run.submitter,
            run_id=run.id,
            now=self.clock.now(),
            today=today(self.clock),
            policy=self.settings.passwords,
            establishments=load_establishments(conn),
            allowed=allowed,
            hash=self._hash,
        )
        batches = self._batches(done_up_to, ctx, max(1, self.settings.database.batch_size))
        current = next(batches, None)
        upcoming: list[list[Checked] | None] = []

        def prefetch() -> None:
            # Called once the batch's hashes are in the pool: the next batch is read and
            # checked (main thread) while the pool hashes (other cores).
            if not upcoming:
                upcoming.append(next(batches, None))

        while current is not None:
            self._await_hashes(current)
            done += self._apply_batch(current, ctx, prefetch)
            prefetch()
            current = upcoming.pop()
            if self.progress:
                self.progress(done, total)

    def _batches(self, done_up_to: int, ctx: Context, size: int) -> Iterator[list[Checked]]:
        """The checked rows not applied yet (resume point: the last line with an outcome)."""
        batch: list[Checked] = []
        for row in read_rows(self.path, self.settings.limits):
            if row.number <= done_up_to:
                continue
            batch.append(check_row(row, ctx.today, ctx.policy))
            if len(batch) >= size:
                self._prehash(batch)
                yield batch
                batch = []
        if batch:
            self._prehash(batch)
            yield batch

    def _apply_batch(self, batch: list[Checked], ctx: Context, between: Callable[[], None]) -> int:
        """Decide and write a batch in one savepoint; on a database error, line by line."""
        conn = self.session.connection()
        written: list[Outcome] = []
        try:
            with conn.begin_nested():
                written = self._decide_and_write(conn, batch, ctx, between)
        except (sa.exc.IntegrityError, sa.exc.DataError):
            # One bad line must not block the file: replay the batch line by line.
            written = []
            for checked in batch:
                try:
                    with conn.begin_nested():
                        written += self._decide_and_write(conn, [checked], ctx, between)
                except (sa.exc.IntegrityError, sa.exc.DataError):
                    problems = (*checked.problems, _db_error())
                    failed = [Outcome.of(checked.number, problems, checked.cells)]
                    self._write_outcomes(conn, failed)
                    written += failed
        self._commit()
        if self.streamed:
            _stream(cast(ReportWriter, self._report), written)
        return len(batch)

    def _decide_and_write(
        self,
        conn: Connection,
        batch: list[Checked],
        ctx: Context,
        between: Callable[[], None],
    ) -> list[Outcome]:
        lines = [c.line for c in batch if c.line is not None]
        est_ids = {e.id for ln in lines if (e := ctx.establishments.get(ln.et)) is not None}
        state = BatchState.load(conn, (ln.account_key for ln in lines), est_ids, ctx.allowed)
        outcomes = []
        ok = Code.OK
        for checked in batch:
            problems = checked.problems
            if checked.line is not None:
                found = apply(state, checked.line, ctx)
                if found:
                    problems = (*problems, *_as_masked(found, checked))
            if problems:
                outcomes.append(Outcome.of(checked.number, problems, checked.cells))
            else:  # the usual line: no generator, no severity fold
                outcomes.append(Outcome(checked.number, ok, (), checked.cells))
        between()
        state.flush(conn, ctx.now, ctx.run_id)
        self._write_outcomes(conn, outcomes)
        return outcomes

    def _write_outcomes(self, conn: Connection, outcomes: list[Outcome]) -> None:
        """One executemany straight to the driver: the hot path of an unchanged re-import."""
        run_id = self.run_row.id
        rows = [
            (run_id, o.line, o.code.value, " | ".join(o.messages), _json_cells(o.cells))
            for o in outcomes
        ]
        if rows:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            conn.exec_driver_sql(_INSERT_OUTCOME.format(m=mark), rows)

    def _counts(self) -> Summary:
        return summary_of(self.session, self.run_row.id)


_GC_YOUNG = 10_000  # allocations between young collections during a run (CPython: 700)
_gc_lock = threading.Lock()
_gc_state = {"users": 0, "young": 0}


@contextmanager
def _young_gc_relaxed() -> Iterator[None]:
    """Collect the young generation less often while a run is applied.

    Each line allocates a dozen containers (cells, records, outcomes) that live for one
    batch; at CPython's default threshold the collector runs every ~60 lines and costs
    ≈ 10 % of an unchanged re-import. Memory stays bounded (a batch's objects are freed
    as the next comes); the threshold is restored when the last concurrent run ends.
    """
    with _gc_lock:
        if _gc_state["users"] == 0:
            young, *older = gc.get_threshold()
            _gc_state["young"] = young
            gc.set_threshold(max(young, _GC_YOUNG), *older)
        _gc_state["users"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_state["users"] -= 1
            if _gc_state["users"] == 0:
                gc.set_threshold(_gc_state["young"], *gc.get_threshold()[1:])


def _stream(report: ReportWriter, committed: list[Outcome]) -> None:
    """Committed outcomes to the report, in line order, as `importer._report` writes them."""
    ok = Code.OK
    for o in committed:
        if o.code is ok and not o.messages:
            report.write_ok(o.line, o.cells)
        else:
            report.write(o)


def _as_masked(found: tuple[Problem, ...], checked: Checked) -> tuple[Problem, ...]:
    """The store's messages quote the account key, which for a non-doctor is the Identifiant:
    when `masked_cells` hid that cell (it could hold a password glued to it by a missing `;`),
    the messages must not show it either."""
    line = checked.line
    if line is None or not line.identifiant or checked.cells[IDENTIFIANT] != MASK:
        return found
    key = line.identifiant
    return tuple(
        Problem(p.code, p.message.replace(key, MASK)) if key in p.message else p for p in found
    )


def _db_error() -> Problem:
    return Problem.erreur(messages.LINE_DATABASE_ERROR)


def summary_of(session: Session, run_id: int) -> Summary:
    rows = session.execute(
        sa.select(OUTCOME.c.code, sa.func.count())
        .where(OUTCOME.c.run_id == run_id)
        .group_by(OUTCOME.c.code)
    )
    counts = {code: n for code, n in rows}
    return Summary(
        ok=counts.get(Code.OK.value, 0),
        alerte=counts.get(Code.ALERTE.value, 0),
        erreur=counts.get(Code.ERREUR.value, 0),
    )


def outcomes(session: Session, run_id: int) -> Iterator[Outcome]:
    """A run's outcomes in line order, streamed (the report and `show` read them)."""
    query = _SELECT_OUTCOMES.execution_options(yield_per=2000)
    codes = {c.value: c for c in Code}
    for line, code, text, cells in session.execute(query, {"run": run_id}):
        yield Outcome(
            line=line,
            code=codes[code],
            messages=tuple(text.split(" | ")) if text else (),
            cells=tuple(json.loads(cells) if isinstance(cells, str) else cells),
        )
