"""The app factory: `create_app` builds settings, database, media store, blueprints and error rendering."""
from __future__ import annotations

import datetime as dt
import logging

from flask import Flask, Request, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from media.images import ImageLimits
from media.store import remove_orphan_uploads, store_from_url
from server import bootstrap, cli, first_admin
from server.activity import RequestActivity, SharedClock
from server.api import bp as api_bp
from server.config import Settings, load_settings
from server.counters import counters_for
from server.csrf import init_csrf
from server.db import make_engine, make_session_factory
from server.errors import DomainError, Problem
from server.first_admin import bp as first_admin_bp
from server.i18n import current_lang, init_i18n
from server.openrosa import bp as openrosa_bp
from server.pages import register_pages
from server.pages.common import ledger_tabs, nav_items, url_with
from server.passwords import CredentialCache
from server.ratelimit import LoginLimiter
from server.render import problem_from, render_problem
from server.runtime import Runtime, close_db, new_request_upload
from server.security_headers import init_security_headers
from server.static_versions import init_static_versions
from server.web import bp as web_bp
from sync.forms import form_title
from sync.jobs import QueueSettings, Worker
from sync.rules import load_rules

log = logging.getLogger("zoufang")


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the cookie signer for a request that carries no session
    cookie: devices never do, and on the submission endpoint that set-up was 3 % of the request's CPU."""

    def open_session(self, app: Flask, request: Request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


class UploadRequest(Request):
    """Uploaded files stream into the media store's temporary folder, hashed as they are written."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return new_request_upload()


def create_app(config: Settings | dict | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else load_settings(**(config or {}))
    # named after the package, as before the factory had a module of its own: Flask's logger keeps its name
    app = Flask("server")
    app.request_class = UploadRequest
    app.session_interface = CookieSessions()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_FORM_MEMORY_SIZE=10 * 1024 * 1024,
        JSON_AS_ASCII=False,
        ZOUFANG_TILE_URL=settings.tile_url,
    )
    app.json.ensure_ascii = False
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)

    rt = build_runtime(settings)
    app.extensions["zoufang"] = rt
    app.wsgi_app = rt.activity.wrap(app.wsgi_app)

    app.register_blueprint(openrosa_bp)
    app.register_blueprint(openrosa_bp, url_prefix="/key/<token>", name="openrosa_key")
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(first_admin_bp)
    register_pages(app)
    cli.register(app)

    init_i18n(app, settings.data_dir)
    init_static_versions(app)
    init_security_headers(app)
    init_csrf(app, exempt=(openrosa_bp, api_bp))
    app.jinja_env.globals.update(nav_items=nav_items, ledger_tabs=ledger_tabs, url_with=url_with,
                                 form_title=lambda form_id, published: form_title(form_id, published, current_lang()))
    app.context_processor(lambda: {"lang": current_lang()})

    @app.after_request
    def _no_app_date(response):
        # Werkzeug's conditional responses set Date, and gunicorn and Werkzeug's server always add their own
        response.headers.pop("Date", None)
        return response

    @app.after_request
    def _remember_lang(response):
        lang = request.args.get("lang")
        if lang in ("zh", "en"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax", httponly=True)
        return response

    @app.teardown_request
    def _cleanup(exc=None):
        for upload in g.pop("uploads", []):
            upload.discard()
        close_db(exc)

    @app.errorhandler(Problem)
    def _problem(problem: Problem):
        session = g.get("db")
        if session is not None:
            session.rollback()
        return render_problem(problem)

    @app.errorhandler(DomainError)
    def _refused(error: DomainError):
        return _problem(problem_from(error))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return render_problem(Problem(exc.code or 500, f"http.{exc.code}", _http_zh(exc.code), exc.description or exc.name))

    @app.errorhandler(Exception)
    def _crash(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        session = g.get("db")
        if session is not None:
            session.rollback()
        return render_problem(Problem(500, "server.error", "服务器内部错误，已记录。请稍后重试。",
                                      "Internal server error; it has been logged. Try again later."))

    if settings.migrate_on_start:
        bootstrap.prepare(rt)
        first_admin.announce(rt)
    if settings.worker == "thread":
        rt.worker = Worker(rt.sessions, rt.queue, rt.store, quiet=rt.activity.quiet)
        rt.worker.start()
    return app


def build_runtime(settings: Settings) -> Runtime:
    """What serving and the commands share: database, media store, credential cache, rate limits, queue.

    A store that cannot be used raises media.store.StoreUnavailable here, before anything is served: the server
    refuses to start rather than answer 500 per submission. Uploads left behind by a process killed mid-request
    are removed."""
    store = store_from_url(settings.media_url, settings.tmp_dir)
    store.check()
    removed = remove_orphan_uploads(settings.tmp_dir)
    if removed:
        log.info("removed %d temporary upload(s) left by a process that was killed mid-request", removed)
    engine = make_engine(settings.database_url)
    return Runtime(
        settings=settings, engine=engine, sessions=make_session_factory(engine),
        store=store,
        credentials=CredentialCache(settings.credential_cache_seconds),
        login_limiter=LoginLimiter(counters_for(settings.ratelimit_storage, settings.ratelimit_prefix, engine)),
        queue=QueueSettings(rules=load_rules(settings.rules_file),
                            hold=dt.timedelta(seconds=settings.reconcile_hold_seconds),
                            clock_skew=dt.timedelta(seconds=settings.clock_skew_seconds),
                            max_attempts=settings.job_max_attempts,
                            image_limits=ImageLimits(settings.image_max_pixels, settings.image_max_side)),
        # every process serving this data dir shares the clock its background workers give way to
        activity=RequestActivity(shared=SharedClock(settings.data_dir / "activity")))


def create_command_app() -> Flask:
    """What `flask --app wsgi …` loads: the commands, and nothing opened yet. Listing them (`--help`) must not
    create a data dir, a database or publish forms; a command opens the data dir when it runs (server/cli.py)
    and never starts the background worker (`reconcile run` is the worker of the command line)."""
    app = Flask("server")
    cli.register(app)
    return app


def _http_zh(code: int | None) -> str:
    return {400: "请求有误。", 401: "需要登录。", 403: "无权访问。", 404: "找不到这个地址。",
            405: "不支持这种请求方法。", 413: "上传的内容太大。"}.get(code or 500, "请求失败。")
