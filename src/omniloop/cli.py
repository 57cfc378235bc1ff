"""The ``omniloop`` command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from omniloop.settings import get_settings

app = typer.Typer(help="OmniLoop — closed-loop customer-lifecycle marketing platform", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema", no_args_is_help=True, pretty_exceptions_enable=False)
users_app = typer.Typer(help="Platform users", no_args_is_help=True, pretty_exceptions_enable=False)
load_app = typer.Typer(help="Bulk loads", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(load_app, name="load")
# `omniloop demo` runs the demo; `omniloop demo generate` writes benchmark files: a group whose callback
# does the work when no subcommand is given.
demo_app = typer.Typer(help="Demo bank (演示银行): `omniloop demo` runs it; `demo generate` writes benchmark data",
                       invoke_without_command=True, pretty_exceptions_enable=False)
app.add_typer(demo_app, name="demo")
jobs_app = typer.Typer(help="Background jobs (作业)", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(jobs_app, name="jobs")
console = Console()


def _url() -> str:
    settings = get_settings()
    if settings.resolved_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (safe to run on every start)."""
    from omniloop.core.migrate import upgrade

    upgrade(_url(), revision)
    console.print(f"[green]database at {revision}[/green]")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models (developers)."""
    from omniloop.core.migrate import revision

    revision(_url(), message)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    upgrade_db: Annotated[bool, typer.Option("--upgrade/--no-upgrade")] = True,
) -> None:
    """Run the REST API and the console."""
    import uvicorn

    from omniloop.app import create_app
    from omniloop.core.migrate import upgrade

    if upgrade_db:
        upgrade(_url())
    from omniloop.plans.estimation_model import warm_up_in_background

    warm_up_in_background()
    uvicorn.run(create_app(), host=host, port=port, log_config=None)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="jobs run at the same time")] = 1,
    once: Annotated[bool, typer.Option("--once", help="run the jobs due now, then exit")] = False,
    poll: Annotated[float | None, typer.Option(min=0.05, help="seconds between polls when idle")] = None,
    upgrade_db: Annotated[bool, typer.Option("--upgrade/--no-upgrade")] = True,
) -> None:
    """Run a job worker until SIGTERM / SIGINT (many may run against one PostgreSQL database)."""
    from omniloop.core.migrate import upgrade
    from omniloop.core.observability import configure_logging
    from omniloop.jobs.worker import run_worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if upgrade_db:
        upgrade(_url())
    run_worker(concurrency=concurrency, once=once, poll_seconds=poll)


@jobs_app.command("enqueue")
def jobs_enqueue(
    name: str,
    args: Annotated[str, typer.Option("--args", help="job arguments as a JSON object")] = "{}",
    key: Annotated[str | None, typer.Option("--key", help="idempotency key: enqueue at most once")] = None,
    delay: Annotated[float, typer.Option(min=0, help="seconds from now before it may run")] = 0,
    priority: Annotated[int, typer.Option(help="lower runs first")] = 100,
    max_attempts: Annotated[int, typer.Option(min=1)] = 5,
) -> None:
    """Enqueue job NAME (e.g. system.noop)."""
    from datetime import timedelta

    from omniloop.core.db import session_scope, utcnow
    from omniloop.core.errors import OmniloopError
    from omniloop.core.migrate import upgrade
    from omniloop.jobs import service

    try:
        parsed = json.loads(args)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--args") from exc
    upgrade(_url())
    try:
        with session_scope() as session:
            job = service.enqueue(session, name=name, args=parsed, idempotency_key=key, priority=priority,
                                  max_attempts=max_attempts, run_at=utcnow() + timedelta(seconds=delay))
            job_id, status = job.id, job.status
    except OmniloopError as exc:
        raise typer.BadParameter(exc.message_en, param_hint="--args") from exc
    console.print(f"job {job_id} {name} {status}")


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")] = None,
    name: Annotated[str | None, typer.Option(help="exact job name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """List the most recent jobs."""
    from rich import box
    from rich.table import Table

    from omniloop.core.db import session_scope
    from omniloop.jobs import service

    # Fits 80 columns: the last error is cut short here; GET /api/jobs/{id} has the whole traceback.
    table = Table("id", "name", "status", "tries", "run at (UTC)", "last error", box=box.SIMPLE_HEAD)
    with session_scope() as session:
        for job in service.list_jobs(session, status=status, name=name, limit=limit):
            error = ((job.error or "").strip().splitlines() or [""])[-1]
            error = error[:23] + "…" if len(error) > 24 else error
            table.add_row(str(job.id), job.name, job.status, f"{job.attempts}/{job.max_attempts}",
                          job.run_at.strftime("%m-%d %H:%M:%S"), error)
    console.print(table)


@app.command()
def openapi(output: Annotated[Path | None, typer.Option("-o", "--output")] = None) -> None:
    """Write the OpenAPI document (the console's API client is generated from it)."""
    from omniloop.app import create_app

    doc = json.dumps(create_app().openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if output:
        output.write_text(doc, encoding="utf-8")
    else:
        typer.echo(doc)


@users_app.command("create")
def users_create(
    username: str,
    org_code: Annotated[str, typer.Option("--org")],
    role: Annotated[str, typer.Option("--role")],
    display_name: Annotated[str | None, typer.Option("--name")] = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create a user in the org with code ORG_CODE."""
    from sqlalchemy import select

    from omniloop.core.audit import SYSTEM
    from omniloop.core.db import session_scope
    from omniloop.core.migrate import upgrade
    from omniloop.org import service
    from omniloop.org.models import Org
    from omniloop.org.roles import Role
    from omniloop.org.schemas import UserCreate

    upgrade(_url())
    with session_scope() as session:
        org = session.scalar(select(Org).where(Org.code == org_code))
        if org is None:
            raise typer.BadParameter(f"no org with code {org_code}", param_hint="--org")
        data = UserCreate(username=username, display_name=display_name or username, org_id=org.id,
                          role=Role(role), password=password)
        user = service.create_user(session=session, data=data, actor=SYSTEM)
        console.print(f"created user {user.username} (id {user.id})")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    from rich.table import Table
    from sqlalchemy import select

    from omniloop.core.db import session_scope
    from omniloop.org.models import Org, User

    table = Table("id", "username", "name", "role", "org", "active")
    with session_scope() as session:
        for user, org in session.execute(select(User, Org).join(Org, Org.id == User.org_id).order_by(User.id)):
            table.add_row(str(user.id), user.username, user.display_name, user.role, org.name, str(user.is_active))
    console.print(table)


@users_app.command("set-password")
def users_set_password(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Set a user's password and unlock the account."""
    from sqlalchemy import select

    from omniloop.core.audit import SYSTEM
    from omniloop.core.db import session_scope
    from omniloop.org import service
    from omniloop.org.models import User

    with session_scope() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise typer.BadParameter(f"no user {username}")
        service.set_password(session=session, user=user, password=password, actor=SYSTEM)
    console.print("password set")


def _rows_progress():
    """A Rich progress bar for row counts (the total may be unknown)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


@load_app.command("customers")
def load_customers_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help=".csv, .parquet or .xlsx")],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="load the valid rows, report the others")] = False,
) -> None:
    """Upsert customers from FILE (columns: see omniloop.customers.loader). Exit code 1 if nothing loaded."""
    from rich.table import Table

    from omniloop.core.db import session_scope
    from omniloop.core.errors import OmniloopError
    from omniloop.core.migrate import upgrade
    from omniloop.customers.loader import load_customers

    upgrade(_url())
    with _rows_progress() as bar, session_scope() as session:
        task = bar.add_task(f"loading {file.name}", total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=max(total or 0, done) or None)

        try:
            report = load_customers(session=session, path=file, skip_invalid=skip_invalid, progress=advance)
        except OmniloopError as exc:
            console.print(f"[red]{exc.message_zh} / {exc.message_en}[/red]")
            raise typer.Exit(1) from exc
    if report.errors:
        table = Table("row 行", "column 列", "error 错误", title=f"{report.error_count} errors")
        for error in report.errors[:50]:
            table.add_row(str(error.row), error.column or "", f"{error.message_zh}\n{error.message_en}")
        console.print(table)
        if report.error_count > 50:
            console.print(f"… {report.error_count - 50} more")
    summary = (f"read {report.rows_read}, inserted {report.inserted}, updated {report.updated}, "
               f"skipped {report.skipped}, errors {report.error_count} in {report.seconds:.1f} s")
    if report.ignored_columns:
        console.print(f"ignored columns: {', '.join(report.ignored_columns)}")
    if not report.loaded:
        console.print(f"[red]nothing loaded 未导入任何数据[/red] — {summary}")
        raise typer.Exit(1)
    console.print(f"[green]loaded 导入完成[/green] — {summary}")


@demo_app.command("generate")
def demo_generate(
    out: Annotated[Path, typer.Option("--out", help="directory for customers.parquet and customer_monthly.parquet")],
    customers: Annotated[int, typer.Option(min=1, help="number of customers")] = 10_000_000,
    seed: int = 42,
    chunk: Annotated[int, typer.Option(min=10_000, help="customers per Parquet row group")] = 500_000,
) -> None:
    """Write the demo bank's customers and monthly history to Parquet (benchmark data)."""
    from omniloop.demo.parquet import generate_parquet

    with _rows_progress() as bar:
        task = bar.add_task("generating", total=customers)
        summary = generate_parquet(out, customers=customers, seed=seed, chunk=chunk,
                                   progress=lambda done, _total: bar.update(task, completed=done))
    for path in (summary.customers_path, summary.monthly_path):
        console.print(f"{path}  {path.stat().st_size / 2**20:,.0f} MiB")
    console.print(f"[green]{summary.customers:,} customers and {summary.monthly_rows:,} monthly rows in "
                  f"{summary.seconds:.1f} s[/green] ({summary.customers / max(summary.seconds, 1e-9):,.0f} customers/s)")


@demo_app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=0, help="customers to generate into an empty database")] = 20_000,
    port: int = 8000,
    host: str = "127.0.0.1",
    seed: int = 42,
) -> None:
    """Run the demo: migrate, seed the demo bank if the database is empty, serve API + console + one worker."""
    if ctx.invoked_subcommand is not None:
        return
    import threading

    import uvicorn
    from rich.table import Table

    from omniloop.app import create_app
    from omniloop.core.db import get_engine, session_scope
    from omniloop.core.errors import OmniloopError
    from omniloop.core.migrate import upgrade
    from omniloop.demo.domains import seed_domains
    from omniloop.demo.layout import build_layout
    from omniloop.demo.seed import seed_demo
    from omniloop.jobs.worker import start_background_worker
    from omniloop.org.roles import role_info
    from omniloop.triggers.dispatch import start_embedded

    url = _url()
    upgrade(url)
    engine = get_engine()
    with _rows_progress() as bar, session_scope(engine) as session:
        task = bar.add_task("seeding", total=customers)
        try:
            summary = seed_demo(session, customers=customers, seed=seed,
                                progress=lambda done, _total: bar.update(task, completed=done))
        except OmniloopError as exc:
            console.print(f"[red]{exc.message_zh} / {exc.message_en}[/red]")
            raise typer.Exit(1) from exc
        bar.update(task, completed=customers)
    if summary.created:
        console.print(f"[green]demo bank created[/green]: {summary.orgs} orgs, {summary.users} users, "
                      f"{summary.customers:,} customers, {summary.monthly_rows:,} monthly rows in {summary.seconds:.1f} s")
    else:
        console.print(f"demo bank already there: {summary.customers:,} customers ({url})")
    domains = seed_domains(engine, home=get_settings().home, seed=seed, log=console.print)
    console.print(f"tags: {domains.tags_created} new, tag set v{domains.tagset_version}"
                  f"{f' (first run {domains.tag_run})' if domains.tag_run else ''}; events: {domains.events:,} new; "
                  f"triggers: {domains.triggers_created} new; plans: {'seeded' if domains.plans.get('created') else 'there'}"
                  f" ({domains.seconds:.1f} s)")
    console.print("event write key 事件写入密钥 (app source): [bold]demo-app-write-key[/bold]  "
                  f"→ POST http://{host}:{port}/v1/track")
    org_names = {org.code: org.name for org in build_layout(seed).orgs}
    logins = Table("username 用户名", "password 密码", "role 角色", "org 机构", title="demo logins 演示账号")
    for login in summary.logins:
        info = role_info(login.role)
        logins.add_row(login.username, summary.password, f"{info.name_zh} / {info.name_en}", org_names[login.org_code])
    console.print(logins)
    console.print(f"[bold]OmniLoop demo: http://{host}:{port}/[/bold]  (API docs: http://{host}:{port}/docs)")

    stop = threading.Event()
    worker_thread = start_background_worker(engine, stop)
    triggers_thread = start_embedded(engine, stop)  # real-time triggers fed by the in-process event bus
    try:
        from omniloop.plans.estimation_model import warm_up_in_background

        warm_up_in_background()
        uvicorn.run(create_app(engine=engine), host=host, port=port, log_config=None)
    finally:
        stop.set()
        worker_thread.join(timeout=30)
        triggers_thread.join(timeout=10)


# ---- real-time triggers (`omniloop triggers run`) ---------------------------------------------------------
triggers_app = typer.Typer(help="Real-time triggers (实时触发器)", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(triggers_app, name="triggers")


@triggers_app.command("run")
def triggers_run(
    redis_url: Annotated[str | None, typer.Option("--redis", help="Redis URL: share the work with other trigger "
                                                                  "workers through Redis Streams consumer groups")] = None,
    consumer: Annotated[str | None, typer.Option(help="consumer name in the group (default host:pid:random)")] = None,
    partitions: Annotated[int, typer.Option(min=1, max=256, help="streams, partitioned by customer (--redis)")] = 8,
    poll: Annotated[float, typer.Option(min=0.02, max=10, help="seconds between looks at the event table")] = 0.2,
    claim_idle: Annotated[float, typer.Option(min=0.1, help="seconds before a dead consumer's entries are claimed")] = 10.0,
    upgrade_db: Annotated[bool, typer.Option("--upgrade/--no-upgrade")] = True,
) -> None:
    """Run a trigger worker until SIGTERM / SIGINT: tails the event table (or, with --redis, consumes its
    share of the customer-partitioned streams) and decides within a second of each event."""
    import signal

    from omniloop.core.db import get_engine
    from omniloop.core.migrate import upgrade
    from omniloop.core.observability import configure_logging
    from omniloop.triggers.dispatch import TriggerRunner

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if upgrade_db:
        upgrade(_url())
    runner = TriggerRunner(get_engine(), poll_seconds=poll, redis_url=redis_url, consumer=consumer,
                           partitions=partitions, claim_idle_seconds=claim_idle)

    def on_signal(signum: int, _frame) -> None:
        if runner.stop_event.is_set():
            raise SystemExit(128 + signum)
        runner.stop_event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    runner.run()


# ---- benchmarks (`omniloop bench NAME --json FILE`) ------------------------------------------------------
bench_app = typer.Typer(help="Benchmarks (基准测试), each against a reference engine in the same run",
                        no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(bench_app, name="bench")


@bench_app.command("audience")
def bench_audience(
    customers: Annotated[int, typer.Option(min=1, help="demo customers to generate and index")] = 1_000_000,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    engines: Annotated[str, typer.Option(help="comma-separated: bitmap, duckdb, postgres")] = (
        "bitmap,duckdb,postgres"),
    seed: int = 42,
    repetitions: Annotated[int, typer.Option(min=1, help="timed runs of each expression")] = 30,
    data_dir: Annotated[Path | None, typer.Option(
        help="directory with the demo Parquet of `omniloop demo generate` (default: generated)")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        help="where generated customers and the derived feature table are kept (default: system temp)")] = None,
) -> None:
    """Live audience estimates: bitmap index vs DuckDB SQL (and PostgreSQL with OMNILOOP_BENCH_DATABASE_URL)."""
    from omniloop.bench import audience

    chosen = tuple(e.strip() for e in engines.split(",") if e.strip())
    result = audience.run(customers, json_path=json_file, engines=chosen, seed=seed, repetitions=repetitions,
                          data_dir=data_dir, cache_dir=cache_dir, log=console.print)
    for engine, numbers in result["results"].items():
        if "skipped" in numbers:
            console.print(f"{engine:9s} skipped: {numbers['skipped']}")
        else:
            console.print(f"{engine:9s} p50 {numbers['p50_ms']:9.2f} ms  p95 {numbers['p95_ms']:9.2f} ms  "
                          f"build {numbers['build_s']:7.1f} s  {numbers['memory_mb']:8.1f} MB")
    console.print(f"[bold]duckdb p50 / bitmap p50 = {result['ratio']}[/bold]")


@bench_app.command("ingest")
def bench_ingest(
    events: Annotated[int, typer.Option(min=100, help="events to send")] = 200_000,
    clients: Annotated[int, typer.Option(min=1, max=64, help="concurrent HTTP clients")] = 8,
    batch: Annotated[int, typer.Option(min=1, max=500, help="events per /v1/batch request")] = 100,
    server_workers: Annotated[int | None, typer.Option(
        min=1, max=16, help="uvicorn worker processes (default: 1 on SQLite, one a CPU on PostgreSQL)")] = None,
    customers: Annotated[int, typer.Option(min=1, help="demo customers the events name")] = 20_000,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    seed: int = 42,
) -> None:
    """Event ingestion: events/s through /v1/batch with durable commits vs a bulk insert (OMNILOOP_BENCH_DATABASE_URL for PostgreSQL)."""
    from omniloop.bench import ingest

    result = ingest.run(events, clients=clients, batch=batch, server_workers=server_workers, customers=customers,
                        seed=seed, json_path=json_file, log=console.print)
    http_result, reference = result["results"]["http_batch"], result["results"]["bulk_insert"]
    console.print(f"/v1/batch    {http_result['events_per_s']:>9,} events/s  p50 {http_result['p50_ms']} ms  "
                  f"p95 {http_result['p95_ms']} ms")
    console.print(f"bulk insert  {reference['events_per_s']:>9,} events/s")
    console.print(f"[bold]HTTP / bulk insert = {result['ratio']}[/bold]")


@bench_app.command("triggers")
def bench_triggers(
    clients: Annotated[int, typer.Option(min=1, max=64, help="concurrent clients sending /v1/batch")] = 4,
    seconds: Annotated[float, typer.Option(min=1, help="how long the clients send")] = 10.0,
    batch: Annotated[int, typer.Option(min=1, max=500, help="messages per batch")] = 50,
    pause: Annotated[float, typer.Option(min=0, help="seconds each client waits between batches")] = 0.05,
    customers: Annotated[int, typer.Option(min=10)] = 2000,
    within: Annotated[int, typer.Option(min=1, help="breakpoint T in seconds")] = 2,
    mode: Annotated[str, typer.Option(help="embedded (bus + tail), tail, or redis")] = "embedded",
    redis_url: Annotated[str | None, typer.Option("--redis", help="Redis URL for --mode redis")] = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="trigger workers in --mode redis")] = 2,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
) -> None:
    """Trigger latency (acceptance → firing) for a breakpoint trigger under ingest load; batch SQL is the reference."""
    from omniloop.bench import triggers

    if mode not in ("embedded", "tail", "redis"):
        raise typer.BadParameter("embedded, tail or redis", param_hint="--mode")
    result = triggers.run(clients=clients, seconds=seconds, batch=batch, pause=pause, customers=customers,
                          within_seconds=within, mode=mode, redis_url=redis_url, workers=workers, json_path=json_file,
                          log=console.print)
    r = result["results"]
    console.print(f"sent {r['events_sent']:,} events ({r['ingest_events_per_s']:,.0f}/s)")
    for name in ("breakpoint", "event"):
        console.print(f"{name:10s} {r[name]['firings']:6d} firings  p50 {r[name]['p50_ms']} ms  p99 {r[name]['p99_ms']} ms")
    ref = result["reference"]
    console.print(f"[bold]agreement with batch SQL = {result['ratio']}[/bold] (missed {ref['missed_by_realtime']}, "
                  f"extra {ref['extra_in_realtime']})")


@bench_app.command("wave")
def bench_wave(
    customers: Annotated[int, typer.Option(min=100, help="customers in the wave")] = 1_000_000,
    chunk: Annotated[int, typer.Option(min=100, help="customers a transaction")] = 10_000,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the result here")] = None,
    database_url: Annotated[str | None, typer.Option(
        help="PostgreSQL URL (emptied first); default OMNILOOP_BENCH_DATABASE_URL or a temporary SQLite file")] = None,
    seed: int = 42,
) -> None:
    """A campaign wave through arbitration and contact policy into the outbox vs a bare bulk insert of its rows."""
    from omniloop.bench import wave

    result = wave.run(customers, chunk=chunk, seed=seed, database_url=database_url, json_path=json_file,
                      log=console.print)
    w, ref = result["results"]["wave"], result["results"]["bulk_insert"]
    console.print(f"wave         {w['contacts_per_s']:>9,} contacts/s ({w['allowed']:,} allowed, {w['deferred']:,} "
                  f"deferred, {w['skipped']:,} skipped; {w['cpu_contacts_per_s']:,} per CPU-second)")
    console.print(f"bulk insert  {ref['rows_per_s']:>9,} outbox rows/s")
    console.print(f"[bold]outbox rows/s through the policy / bulk insert = {result['ratio']}[/bold]")
