"""`flask --app wsgi demo load`: fill a fresh instance with the sample district and two months of field work.

The generator is sync/demo.py; this module only makes the accounts (they belong to the server shell) and tells
the operator what was loaded and how to log in.
"""
from __future__ import annotations

import sys
from typing import Callable

import click
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.db import session_scope
from server.errors import DomainError
from server.models import User, UserArea
from server.passwords import hash_password
from server.runtime import Runtime
from sync.models import Area


def _create_users(session: Session, users) -> tuple[dict[str, int], list[str]]:
    """Make the demo accounts that do not exist yet; an existing account is left as it is (password included)."""
    existing = {u.username: u for u in session.scalars(select(User))}
    codes = {a.code: a.id for a in session.scalars(select(Area))}
    created = []
    for spec in users:
        if spec.username in existing:
            continue
        user = User(username=spec.username, role=spec.role, display_name=spec.display_name, duty=spec.duty,
                    password_hash=hash_password(spec.password))
        user.areas = [UserArea(area_id=codes[code]) for code in spec.area_codes]
        session.add(user)
        existing[spec.username] = user
        created.append(spec.username)
    session.flush()
    return {name: user.id for name, user in existing.items()}, created


def register_demo(app: Flask, runtime_of: Callable[[], Runtime]) -> None:
    @app.cli.group("demo")
    def demo_group():
        """Demo data for trying the system out."""

    @demo_group.command("load")
    @click.option("--force", is_flag=True,
                  help="load even though the instance already has households (what exists is kept)")
    @click.option("--seed", type=int, default=None, help="another seed gives other (still repeatable) data")
    def demo_load(force: bool, seed: int | None):
        """Sample areas and roster (113 households), the bundled forms, demo accounts, and this month's and
        last month's visits, housing assessments and income surveys with photos, reconciled and thumbnailed.
        Only for a fresh instance; refuses one that has households unless --force."""
        from sync.demo import SEED, load_demo, thumbnails_made
        from sync.records import Conflict, Visit

        rt = runtime_of()
        if rt.worker is not None:
            # this command works the queue itself; the app's own worker thread would race it and could be cut
            # off in the middle of a photo when the command exits
            rt.worker.stop()
            rt.worker.join(10)
            rt.worker = None
        try:
            report = load_demo(rt.sessions, rt.store, rt.queue, _create_users, seed=SEED if seed is None else seed,
                               force=force, progress=lambda text: click.echo(f"… {text}", err=True))
        except DomainError as problem:
            click.echo(f"{problem.message_zh}\n{problem.message_en}", err=True)
            sys.exit(1)

        with session_scope(rt.sessions) as session:
            visits = dict(session.execute(select(Visit.month, func.count(Visit.id)).group_by(Visit.month)).all())
            verdicts = dict(session.execute(select(Visit.verdict, func.count(Visit.id))
                                            .group_by(Visit.verdict)).all())
            conflicts = session.scalar(select(func.count()).select_from(Conflict).where(Conflict.state == "open"))
            thumbs = thumbnails_made(session)
        click.echo(f"households: {report.households}")
        click.echo("submitted: " + ", ".join(f"{form} {n}" for form, n in sorted(report.submitted.items()))
                   + (f" ({report.skipped} already there)" if report.skipped else ""))
        click.echo("visits by month: " + ", ".join(f"{m} {n}" for m, n in sorted(visits.items(), key=str)))
        click.echo("verdicts: " + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items(), key=str)))
        click.echo(f"open conflicts: {conflicts}; thumbnails: {thumbs}; jobs done: {report.jobs_done}; "
                   f"{report.seconds:.1f} s")
        click.echo("")
        click.echo("Log in at /login with (demo passwords; change them before real use):")
        for user in report.users:
            note = "" if user.username in report.created_users else "  (existed already: password unchanged)"
            areas = ",".join(user.area_codes) or "all"
            click.echo(f"  {user.username:<10} {user.password:<14} {user.role:<10} {areas:<27} "
                       f"{user.display_name}{note}")
