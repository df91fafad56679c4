"""Command line: `flask --app wsgi …` for operators (see INTERFACE.md)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from forms.service import publish_form
from media.store import StoreUnavailable
from server.accounts import MIN_PASSWORD
from server.audit import record
from server.backup_cli import register_backup
from server.bootstrap import migrate, prepare
from server.config import load_settings
from server.db import session_scope
from server.demo_cli import register_demo
from server.errors import DomainError
from server.first_admin import needs_first_admin
from server.login_sessions import end_user_sessions
from server.models import ROLES, User, UserArea
from server.passwords import hash_password
from server.runtime import Runtime
from sync.areas import import_areas
from sync.roster import import_roster
from sync.models import Area
from sync.visitor_roles import DUTIES, OTHER


def _rt(app: Flask) -> Runtime:
    """The app's runtime. The command line's app (server.app.create_command_app) has none until a command runs:
    then the data dir is opened and prepared as a start would (migrations, the first admin from the environment,
    the bundled forms) when ZOUFANG_MIGRATE_ON_START allows, but no background worker is started."""
    rt = app.extensions.get("zoufang")
    if rt is None:
        from server.app import build_runtime  # server.app imports this module
        try:
            rt = app.extensions["zoufang"] = build_runtime(load_settings())
        except StoreUnavailable as problem:
            raise click.ClickException(str(problem)) from None
        if rt.settings.migrate_on_start:
            prepare(rt)
    return rt


def _new_password(from_stdin: bool) -> str:
    password = sys.stdin.readline().rstrip("\n") if from_stdin else click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        _fail(DomainError("invalid", "user.password_short", f"密码至少 {MIN_PASSWORD} 个字符。",
                          f"The password needs at least {MIN_PASSWORD} characters."))
    return password


def _fail(problem: DomainError) -> None:
    click.echo(f"{problem.message_zh}\n{problem.message_en}", err=True)
    details = problem.details or {}
    for item in details.get("errors", []) if isinstance(details, dict) else []:
        where = " ".join(str(x) for x in (item.get("sheet"), item.get("row"), item.get("column")) if x)
        click.echo(f"  [{where}] {item['message_zh']} | {item['message_en']}" if where else
                   f"  {item['message_zh']} | {item['message_en']}", err=True)
    sys.exit(1)


def register(app: Flask) -> None:
    register_demo(app, lambda: _rt(app))
    register_backup(app, lambda: _rt(app), _fail)
    @app.cli.group("db")
    def db_group():
        """Database schema."""

    @db_group.command("upgrade")
    def db_upgrade():
        """Apply every pending migration."""
        rt = _rt(app)
        migrate(rt)
        click.echo("database is up to date")
        with session_scope(rt.sessions) as session:
            if needs_first_admin(session):
                click.echo("no admin account yet: create one with `flask --app wsgi users create NAME --role admin`")

    @app.cli.group("areas")
    def areas_group():
        """The area tree (county › town › village › group)."""

    @areas_group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def areas_import(file: Path):
        """Load or update areas from a CSV/XLSX with columns 代码, 名称, 上级代码, 层级."""
        try:
            with session_scope(_rt(app).sessions) as session:
                result = import_areas(session, file.read_bytes(), file.name)
                record(session, "areas.import", f"file:{file.name}", dict(result))
        except DomainError as problem:
            _fail(problem)
        click.echo(f"{result['rows']} rows: {result['created']} created, {result['updated']} updated")

    @app.cli.group("roster")
    def roster_group():
        """The registered-household roster (建档立卡)."""

    @roster_group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def roster_import(file: Path):
        """Load or update households and members from a CSV/XLSX, one row per person."""
        try:
            with session_scope(_rt(app).sessions) as session:
                with click.progressbar(length=1, label="importing", file=sys.stderr) as bar:
                    def progress(done: int, total: int) -> None:
                        bar.length = total
                        bar.update(done - bar.pos)
                    result = import_roster(session, file.read_bytes(), file.name, progress)
                record(session, "roster.import", f"file:{file.name}", result.to_dict())
        except DomainError as problem:
            _fail(problem)
        click.echo(f"{result.rows} rows, {result.households} households: {result.created} created, "
                   f"{result.updated} updated, {result.unchanged} unchanged")

    @app.cli.group("reconcile")
    def reconcile_group():
        """Household records from submissions."""

    @reconcile_group.command("run")
    @click.option("--once", is_flag=True, help="process what is due, then exit")
    def reconcile_run(once: bool):
        """Work the reconcile queue (several of these may run at once, on PostgreSQL even on several hosts)."""
        from sync.jobs import Worker, run_until_idle
        rt = _rt(app)
        if once:
            click.echo(f"{run_until_idle(rt.sessions, rt.queue, rt.store)} jobs done")
            return
        worker = Worker(rt.sessions, rt.queue, rt.store, kind="command")
        click.echo("reconcile worker running, logging each batch; Ctrl-C stops it")
        try:
            worker.run()
        except KeyboardInterrupt:
            worker.stop()

    @reconcile_group.command("rebuild")
    @click.option("--workers", default=1, type=click.IntRange(1, 32),
                  help="processes sharing the work (PostgreSQL only)")
    def reconcile_rebuild(workers: int):
        """Replay every submission and rebuild every household record; run again to resume an interrupted one."""
        from sync.rebuild import rebuild
        rt = _rt(app)
        started, first = time.monotonic(), []

        def rate(done: int | None) -> str:
            elapsed = time.monotonic() - started
            return "" if done is None or not first or elapsed < 1 else f"{(done - first[0]) / elapsed:,.0f}/s"

        with click.progressbar(length=1, label="rebuilding", show_pos=True, show_eta=True, item_show_func=rate,
                               file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                first[:] = first or [done]
                bar.length = max(total, 1)
                bar.update(done - bar.pos, done)
            try:
                rebuilt = rebuild(rt.sessions, rt.queue, progress, workers=workers)
            except ValueError as error:
                raise click.UsageError(str(error))
        click.echo(f"rebuilt {rebuilt.households} households")
        if rebuilt.left:
            click.echo(f"{rebuilt.left} chunks not done (see the failed jobs); "
                       "`reconcile retry-failed`, then `reconcile rebuild` resumes")
        if rebuilt.skipped:
            click.echo(f"skipped {len(rebuilt.skipped)}:")
            for item in rebuilt.skipped:
                click.echo(f"  {item['household']} {item['instance_id'] or '-'}: {item['reason']}")
        if rebuilt.left:
            sys.exit(1)

    @reconcile_group.command("retry-failed")
    def reconcile_retry():
        """Queue the failed jobs again (after fixing what made them fail)."""
        from sync.jobs import retry_failed
        click.echo(f"{retry_failed(_rt(app).sessions)} jobs queued again")

    @app.cli.group("users")
    def users_group():
        """User accounts."""

    @users_group.command("create")
    @click.argument("name")
    @click.option("--role", type=click.Choice(ROLES), required=True)
    @click.option("--area", "areas", multiple=True, help="area code; repeat for several")
    @click.option("--display-name", default="")
    @click.option("--duty", type=click.Choice(DUTIES), default=OTHER, show_default=True,
                  help="visiting duty role (走访身份): what the account's visits count for")
    @click.option("--password-stdin", is_flag=True, help="read the password from standard input")
    def users_create(name: str, role: str, areas: tuple[str, ...], display_name: str, duty: str,
                     password_stdin: bool):
        """Create a user with a role and the areas they may see; pages name people by their display name, so an
        operator at the keyboard is asked for it when it is not given."""
        if not display_name and not password_stdin:
            display_name = click.prompt("姓名 / Display name", default=name).strip()
        password = _new_password(password_stdin)
        with session_scope(_rt(app).sessions) as session:
            if session.scalar(select(User.id).where(User.username == name)):
                _fail(DomainError("conflict", "user.exists", f"用户“{name}”已存在。", f"User '{name}' already exists."))
            found = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(areas)))}
            unknown = [code for code in areas if code not in found]
            if unknown:
                _fail(DomainError("invalid", "user.area_unknown", f"没有这些区域：{', '.join(unknown)}",
                                  f"Unknown area code(s): {', '.join(unknown)}"))
            if role != "admin" and not areas:
                click.echo("warning: a supervisor, cadre or finance account without --area sees nothing", err=True)
            user = User(username=name, role=role, display_name=display_name or name, duty=duty,
                        password_hash=hash_password(password))
            user.areas = [UserArea(area_id=found[code].id) for code in areas]
            session.add(user)
            record(session, "user.create", f"user:{name}",
                   {"role": role, "display_name": user.display_name, "areas": list(areas), "duty": duty})
        click.echo(f"created {role} {name}")

    @users_group.command("set-duty")
    @click.argument("name")
    @click.argument("duty", type=click.Choice(DUTIES))
    def users_set_duty(name: str, duty: str):
        """Change an account's visiting duty role (走访身份); visits already received keep the role they came with."""
        with session_scope(_rt(app).sessions) as session:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                _fail(DomainError("not_found", "user.not_found", f"没有用户“{name}”。", f"There is no user '{name}'."))
            if user.duty != duty:
                record(session, "user.duty", f"user:{name}", {"from": user.duty, "to": duty})
                user.duty = duty
        click.echo(f"{name}: {duty}")

    @users_group.command("list")
    def users_list():
        """Every account: user name, role, display name, area codes, whether it may sign in, duty role."""
        with session_scope(_rt(app).sessions) as session:
            codes = dict(session.execute(select(Area.id, Area.code)).all())
            for user in session.scalars(select(User).order_by(User.username)):
                areas = ",".join(sorted(codes[a.area_id] for a in user.areas)) or "-"
                click.echo("\t".join((user.username, user.role, user.display_name or "-", areas,
                                      "active" if user.active else "inactive", user.duty)))

    @users_group.command("set-password")
    @click.argument("name")
    @click.option("--password-stdin", is_flag=True, help="read the password from standard input")
    def users_set_password(name: str, password_stdin: bool):
        """Give a user a new password: their browser sessions end; their phones' tokens stay."""
        password = _new_password(password_stdin)
        with session_scope(_rt(app).sessions) as session:
            user = session.scalar(select(User).where(User.username == name))
            if user is None:
                _fail(DomainError("not_found", "user.not_found", f"没有用户“{name}”。", f"There is no user '{name}'."))
            user.password_hash = hash_password(password)
            record(session, "user.password_reset", f"user:{name}")
            end_user_sessions(session, user.id)
        click.echo(f"new password set for {name}")

    @app.cli.group("forms")
    def forms_group():
        """Forms."""

    @forms_group.command("publish")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--media", "media", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="a media file the form refers to; repeat for several")
    def forms_publish(file: Path, media: tuple[Path, ...]):
        """Compile an XLSForm with pyxform and publish it as a new version."""
        rt = _rt(app)
        try:
            with session_scope(rt.sessions) as session:
                version = publish_form(session, rt.store, file.read_bytes(), file.name,
                                       {m.name: m.read_bytes() for m in media})
                record(session, "form.publish", f"form:{version.form.xml_form_id}",
                       {"version": version.version, "file": file.name, "media": sorted(m.name for m in media)})
                form_id, number, warnings = version.form.xml_form_id, version.version, list(version.warnings)
        except DomainError as problem:
            _fail(problem)
        for warning in warnings:
            where = " ".join(str(x) for x in (warning.get("sheet"), warning.get("row")) if x)
            click.echo(f"warning [{where}] {warning['message_zh']} | {warning['message_en']}", err=True)
        click.echo(f"published {form_id} version {number}")
