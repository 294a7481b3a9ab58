"""``simfocus db purge``: delete what outlived retention (see ``purge_expired``).

The API replicas purge on their own every ``retention_interval_s``; this is for a cron
job, a store without a running API, or a look first (``--dry-run``).
"""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from simfocus.accounts.lifecycle import PurgeCounts, purge_expired, record_purge
from simfocus.settings import Settings
from simfocus.store.engine import session_factory, store_engine
from simfocus.store.models import utcnow

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


async def purge(settings: Settings, days: int, dry_run: bool) -> PurgeCounts:
    """Purge in one transaction; a dry run rolls it back, so it counts exactly what a
    real run would delete (same statements) and changes nothing."""
    async with store_engine(settings, migrated=True) as engine:
        async with session_factory(engine)() as session:
            now = utcnow()
            counts = await purge_expired(session, days, now)
            if dry_run:
                await session.rollback()
            else:
                # Also tells the API replicas' loops that a purge just ran.
                record_purge(session, days, counts, now, source="cli")
                await session.commit()
            return counts


def purge_command(settings: Settings, days: int | None, dry_run: bool, console: Console) -> int:
    """Run ``simfocus db purge``; returns the exit code."""
    days = settings.retention_days if days is None else days
    if days < 1:
        console.print("[bold red]error:[/] --days must be at least 1")
        return EXIT_USAGE
    url = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    try:
        counts = asyncio.run(purge(settings, days, dry_run))
    except Exception as e:  # the store is unreachable, locked, not ours…
        console.print(f"[bold red]error:[/] cannot purge {escape(url)}: {escape(str(e))}")
        console.print("[dim]Check SIMFOCUS_DATABASE_URL and that the database is running.[/]")
        return EXIT_FAILED
    verb = "Would delete" if dry_run else "Deleted"
    console.print(f"{verb} what ended or expired more than {days} days ago in {escape(url)}:")
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.as_dict().items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    if dry_run:
        console.print("[dim]Dry run: nothing was deleted. Run without --dry-run to purge.[/]")
    return EXIT_OK
