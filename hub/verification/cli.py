"""``hub registers ...``: load register mirrors, re-check stale registrations, act on
withdrawn licences, delete decided documents.

The main CLI registers :data:`registers`; ``ctx.obj.hub`` is the hub's services. Exit codes:
0 fine, 1 a malformed register file (the message names the line; nothing of the failing
batch was written and a re-run resumes after the last committed one), 2 bad usage.
"""

from __future__ import annotations

import inspect
import re
import sys
import time
from datetime import timedelta
from typing import Any

import click

from hub.cli_choices import RegistryChoice
from hub.verification import jobs, registry
from hub.verification.base import RegisterFileError
from hub.verification.importing import ImportReport, Progress, WithdrawalsRefused

_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _hub(ctx: click.Context) -> Any:
    hub = getattr(ctx.obj, "hub", None)
    if hub is None:
        raise click.UsageError("run the register commands as `hub registers ...`")
    return hub


def parse_duration(value: str) -> timedelta:
    m = _DURATION.match(value.strip().lower())
    if m is None:
        raise click.BadParameter("use a number and a unit: 30d, 12h, 45m or 600s")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


class ProgressLine:
    """One progress line on stderr, redrawn in place on a terminal and written at most
    every ``every`` seconds elsewhere (logs stay readable)."""

    def __init__(self, *, quiet: bool, every: float | None = None) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.every = every if every is not None else (0.2 if self.tty else 10.0)
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if self.quiet or now - self._last < self.every:
            return
        self._last = now
        pct = f"{100 * p.bytes_read / p.total_bytes:5.1f}%" if p.total_bytes else "     "
        rate = p.line / max(now - self.started, 1e-6)
        text = (f"{p.register} {p.kind}: {pct}  line {p.line:,}  {p.rows_changed:,} changed  "
                f"{rate:,.0f} lines/s")
        click.echo(("\r" + text) if self.tty else text, err=True, nl=not self.tty)
        self._drawn = self.tty

    def done(self) -> None:
        if self._drawn:
            click.echo("", err=True)


@click.group("registers")
def registers() -> None:
    """Professional registers: mirror imports, re-checks and withdrawals."""


@registers.command("import")
# Which files each register publishes comes from the register table (see docs/verification.md).
@click.argument("register", type=RegistryChoice(lambda: registry.importers()))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--delta", "kind", flag_value="delta", help="A daily/weekly change file.")
@click.option("--deactivations", "kind", flag_value="deactivations",
              help="NPPES Deactivated NPI Report: the xlsx as published, or its CSV export.")
@click.option("--force", is_flag=True, help="Read a full file again even if it was imported before.")
@click.option("--dry-run", is_flag=True,
              help="Read the file and list what it would change (and who would lose their verified "
                   "claim) without writing anything.")
@click.option("--accept-withdrawals", is_flag=True,
              help="Apply a snapshot even though it withdraws more entries than the import guard "
                   "allows (audited). Look at --dry-run first.")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.pass_context
def import_file(ctx: click.Context, register: str, file: str, kind: str | None, force: bool,
                dry_run: bool, accept_withdrawals: bool, batch_size: int, quiet: bool) -> None:
    """Import REGISTER's FILE into the mirror (streaming, resumable, idempotent) and end
    the sessions of doctors whose licence the file withdrew or restricted."""
    kind = kind or "full"
    files = registry.importers()[register]
    importer = files.get(kind)
    if importer is None:
        kinds = ", ".join(f"--{k}" for k in files if k != "full") or "only full files"
        raise click.UsageError(f"{register} has no {kind} file (it takes: {kinds})")
    hub = _hub(ctx)
    progress = ProgressLine(quiet=quiet)
    kw: dict[str, Any] = {"progress": progress, "batch_size": batch_size}
    accepted = inspect.signature(importer).parameters
    for flag, name, value in (("--force", "force", force), ("--dry-run", "dry_run", dry_run),
                              ("--accept-withdrawals", "accept_withdrawals", accept_withdrawals)):
        if value:
            if name not in accepted:
                raise click.UsageError(f"{flag} does not apply to {register} {kind} files")
            kw[name] = True
    if accept_withdrawals:
        kw["accepted_by"] = "cli"
    try:
        report = importer(hub.db, file, **kw)
    except WithdrawalsRefused as exc:
        progress.done()
        click.echo(f"error: {exc}", err=True)
        _report_plan(exc.plan, err=True)
        ctx.exit(1)
    except RegisterFileError as exc:
        progress.done()
        # Already names the file and line; never a traceback for a bad file.
        click.echo(f"error: {exc}", err=True)
        ctx.exit(1)
    except (OSError, UnicodeError) as exc:
        progress.done()
        click.echo(f"error: cannot read {file}: {exc.__class__.__name__}", err=True)
        ctx.exit(1)
    progress.done()
    if report.skipped:
        click.echo(f"{register} {kind}: this file was already imported; nothing to do (--force re-reads it)")
        return
    for warning in report.warnings:
        click.echo(f"warning: {file}:{warning.removeprefix('line ')}", err=True)
    if report.warning_count > len(report.warnings):
        click.echo(f"warning: ... and {report.warning_count - len(report.warnings):,} more", err=True)
    if report.dry_run:
        click.echo(f"{register} {kind} (dry run, nothing written): {report.lines:,} lines, "
                   f"{report.rows_changed:,} entries would change")
        _report_plan(report)
        return
    resumed = f" (resumed after line {report.resumed_from:,})" if report.resumed_from else ""
    click.echo(f"{register} {kind}: {report.lines:,} lines{resumed}, "
               f"{report.rows_changed:,} entries changed, {len(report.became_inactive):,} became inactive, "
               f"{len(report.became_restricted):,} restricted, "
               f"{len(report.withdrawn):,} verified registrations withdrawn")
    if report.withdrawals_accepted:
        click.echo(f"{register} {kind}: {len(report.vanished):,} withdrawals applied over the import guard "
                   "(--accept-withdrawals, audited)")
    if report.withdrawn:
        # At once, not at the next scheduled run: a withdrawn licence must stop travelling
        # in tokens now.
        _report_withdrawals(jobs.process_withdrawals(hub))


def _report_plan(plan: ImportReport, *, err: bool = False) -> None:
    """What a file would do: entries withdrawn or restricted, and the doctors whose
    verified claim would stop."""
    click.echo(f"would withdraw {len(plan.became_inactive):,} entries "
               f"({len(plan.vanished):,} no longer listed), restrict {len(plan.became_restricted):,}; "
               f"{len(plan.withdrawn):,} doctors would lose their verified claim", err=err)
    for w in plan.withdrawn:
        click.echo(f"would lose claim: doctor {w.doctor_id}: {w.register} {w.number} ({w.status}: "
                   f"{w.reason})", err=err)


def _report_withdrawals(handled: list[jobs.HandledWithdrawal]) -> None:
    for h in handled:
        click.echo(f"withdrawn: doctor {h.doctor_id}: sessions ended, {h.grants_revoked} grants revoked"
                   + (f" (networks: {', '.join(h.clients)})" if h.clients else ""))


@registers.command("recheck")
@click.option("--older-than", "older_than", default="30d", show_default=True,
              help="Re-check registrations last checked longer ago than this (30d, 12h...).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.pass_context
def recheck_command(ctx: click.Context, older_than: str, limit: int) -> None:
    """Re-check stale registrations against their register, then act on withdrawals."""
    age = parse_duration(older_than)
    summary = jobs.recheck_stale(_hub(ctx), older_than=age, limit=limit)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.by_status.items())) or "none due"
    click.echo(f"re-checked {summary.checked} registrations: {counts}")
    _report_withdrawals(summary.withdrawals)


@registers.command("process-withdrawals")
@click.pass_context
def process_withdrawals_command(ctx: click.Context) -> None:
    """End sessions and revoke tokens of doctors whose registration was withdrawn."""
    handled = jobs.process_withdrawals(_hub(ctx))
    click.echo(f"{len(handled)} doctors with a withdrawn registration handled")
    _report_withdrawals(handled)


@registers.command("purge-documents")
@click.pass_context
def purge_documents_command(ctx: click.Context) -> None:
    """Delete the content of review documents past their retention."""
    click.echo(f"{jobs.purge_documents(_hub(ctx))} documents deleted")
