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
    uvicorn.run(create_app(), host=host, port=port, log_config=None)


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
