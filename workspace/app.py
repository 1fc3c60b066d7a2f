"""The stewards' workspace as a FastAPI application: server-rendered pages (Jinja2 + htmx,
every asset vendored under ``static/``) and a JSON API under ``/api`` with the same reads.

Who may do what: every page and API call needs a session (log in) or an API token
(``Authorization: Bearer ...``); without one the answer is 401. Stewards decide; analysts and
viewers read (analysts through the ``analyst`` privacy role's masks). A state-changing request
authenticated by the session cookie must carry the session's CSRF token, or it is refused with
403. Decisions go through :func:`pipelines.stewardship.write_decisions`, the code the CLI uses,
with the user's name as the actor.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote as url_quote

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.errors import GoldenError
from pipelines.i18n import LANGUAGES, NATIVE_NAMES, Explained, Translator, choose, say
from pipelines.lock import RunLockedError
from pipelines.stewardship import Change, Link, Pin, Revoke, confirm_review, write_decisions
from workspace import service
from workspace.data import NotPublished, Reader
from workspace.masking import Masker
from workspace.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    Session,
    open_session_store,
    same_token,
)
from workspace.users import User, UserStore

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

Queue = Literal["review", "training"]
"""The review page's queues (:data:`workspace.service.QUEUES`): the uncertain pairs, and the
pairs suggested for labelling so the model learns (active learning)."""

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSRF_HEADER = "x-csrf-token"
LANGUAGE_COOKIE = "golden_lang"
"""A user's own choice of language (the links in the page header), kept for a year."""


@dataclass
class Principal:
    """Who is asking: the user, and the session when the request came with a cookie."""

    user: User
    session: Session | None

    @property
    def name(self) -> str:
        return self.user.name


class Workspace:
    """The application's shared state."""

    def __init__(
        self,
        config: PipelineConfig,
        *,
        secure_cookies: bool = False,
        sessions_url: str | None = None,
    ):
        self.config = config
        self.reader = Reader(config.warehouse.path)
        self.users = UserStore(config.warehouse.path)
        # Shared by every server process on this warehouse (workspace/security.py).
        self.sessions = open_session_store(config.warehouse.path, sessions_url)
        self.throttle = LoginThrottle(self.sessions)
        self.secure_cookies = secure_cookies
        analyst = config.privacy.roles.get("analyst")
        self._maskers = {
            "steward": Masker(None),
            "viewer": Masker(None),
            # A deployment without an analyst role still masks: everything is hidden then.
            "analyst": Masker(analyst) if analyst else Masker(_HIDE_ALL),
        }

    def context(self, principal: Principal) -> service.Context:
        return service.Context(self.config, self.reader, self._maskers[principal.user.role])


def _hide_all_role() -> Any:
    from pipelines.privacy.config import RoleConfig

    return RoleConfig(columns={"golden_id": "none"})


_HIDE_ALL = _hide_all_role()


class Unauthenticated(Exception):
    """No valid session or token."""


class Refused(HTTPException):
    """An HTTP refusal said by a catalogue message id: the JSON API answers its English text
    (``detail``, the API's contract), a page says it in the reader's language."""

    def __init__(self, status_code: int, key: str, **values: object):
        super().__init__(status_code, say("en", [(key, values)]))
        self.message_parts = [(key, values)]


class WorkspaceError(Explained, GoldenError):
    """A request the workspace refuses before the shared decision code sees it (a record that
    is not the customer's), said by catalogue message ids."""


CHART_NAME = r"[a-z0-9_]{1,64}\.html"
"""A match chart's file name (``runs/<id>/match/charts/<name>.html``, written by the match
stage); anything else is refused before a path is built."""
PERSONAL_CHARTS = frozenset({"waterfall.html"})
"""Charts that show compared values (personal data) unmasked: not for analysts."""


class DecisionIn(BaseModel):
    """One decision through the API: ``link`` / ``no_link`` a pair, ``pin`` a value, ``revoke``
    a decision, ``split_out`` a record from its golden id (cannot-links to the others), or
    ``confirm`` a record or customer for periodic review (``record_key`` or ``golden_id``)."""

    kind: str = Field(pattern="^(link|no_link|pin|revoke|split_out|confirm)$")
    reason: str = Field(min_length=1)
    record_key_l: str | None = None
    record_key_r: str | None = None
    golden_id: str | None = None
    field: str | None = None
    value: str | None = None
    decision_id: str | None = None
    record_key: str | None = None
    pairs: list[tuple[str, str]] | None = None
    """For ``link`` / ``no_link``: several pairs at once instead of ``record_key_l/_r``."""


def create_app(
    config: PipelineConfig, *, secure_cookies: bool = False, sessions_url: str | None = None
) -> FastAPI:
    """The workspace application for one deployment's configuration; ``sessions_url`` a
    PostgreSQL URL for the session store, else the SQLite file in the warehouse."""
    from pipelines.warehouse import protect_process

    protect_process(config.warehouse.access)  # the search index holds personal data
    ws = Workspace(config, secure_cookies=secure_cookies, sessions_url=sessions_url)
    app = FastAPI(
        title="golden-records stewards' workspace",
        version="1",
        description=(
            "Customer lookup, match review and quality for the golden tables. Every endpoint "
            "needs `Authorization: Bearer <token>` (`golden users token NAME`) or a session."
        ),
        docs_url=None,  # Swagger UI and ReDoc load their code from a CDN: not served here
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.workspace = ws
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["static_version"] = "1"
    templates.env.globals["languages"] = [(code, NATIVE_NAMES[code]) for code in LANGUAGES]
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # --- authentication --------------------------------------------------------------------
    async def principal(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            user = ws.users.verify_token(header[7:].strip())
            if user is None:
                raise Unauthenticated()
            return Principal(user, None)
        session = ws.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise Unauthenticated()
        user = ws.users.get(session.user)
        if user is None:  # removed since logging in: end all of theirs, in every process
            ws.sessions.end_user(session.user)
            raise Unauthenticated()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            given = request.headers.get(CSRF_HEADER)
            if given is None and _is_form(request):
                token = (await request.form()).get("csrf_token")  # parsed once, cached
                given = token if isinstance(token, str) else None
            if not same_token(given, session.csrf):
                raise Refused(403, "error.csrf")
        return Principal(user, session)

    def steward(who: Principal = Depends(principal)) -> Principal:
        if not who.user.can_decide:
            raise Refused(403, "error.cannot_decide", role=who.user.role)
        return who

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        """No framing, no sniffing, no caching of customer data, scripts only from here."""
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": "not authenticated: send a session or a bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return _login_page(request, status=401, next_url=str(request.url.path))

    @app.exception_handler(NotPublished)
    async def _not_published(request: Request, exc: NotPublished) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=503)
        t = translate(request)
        return HTMLResponse(
            templates.get_template("message.html").render(
                title=t("published.none_title"),
                message=t.error(exc),
                who=None,
                csrf="",
                t=t,
                request=request,
            ),
            status_code=503,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _refused(request: Request, exc: StarletteHTTPException) -> Response:
        """The JSON API keeps FastAPI's English ``{"detail": ...}``; a page says the refusal
        in the reader's language, on the product's own page."""
        from fastapi.exception_handlers import http_exception_handler

        if request.url.path.startswith("/api/"):
            return await http_exception_handler(request, exc)
        t = translate(request)
        if getattr(exc, "message_parts", None):
            message = t.error(exc)
        elif exc.status_code == 404:
            message = t("error.not_found")
        else:
            message = str(exc.detail)
        title = f"error.title.{exc.status_code}"
        response = HTMLResponse(
            templates.get_template("message.html").render(
                title=t(title) if title in _catalogue_ids() else t("error.title"),
                message=message,
                who=None,
                csrf="",
                t=t,
                request=request,
            ),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
        response.headers["Content-Language"] = t.html_lang
        return response

    def translate(request: Request) -> Translator:
        """The reader's language: their own switch, else the config, else the browser's."""
        return Translator(
            choose(
                ws.config.language,
                user_choice=request.cookies.get(LANGUAGE_COOKIE),
                accept_language=request.headers.get("accept-language"),
            )
        )

    def render(
        request: Request, name: str, who: Principal, status: int = 200, **values: Any
    ) -> HTMLResponse:
        csrf = who.session.csrf if who.session else ""
        t = translate(request)
        response = templates.TemplateResponse(
            request,
            name,
            {"who": who.user, "csrf": csrf, "config": ws.config, "t": t, **values},
            status_code=status,
        )
        response.headers["Content-Language"] = t.html_lang
        response.headers["Vary"] = "Accept-Language, Cookie"  # the words depend on both
        return response

    def _login_page(
        request: Request, status: int = 200, next_url: str = "/", error: str | None = None
    ) -> HTMLResponse:
        import secrets

        # One token per browser, kept across failed attempts (and tabs) until a login succeeds.
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
        response = templates.TemplateResponse(
            request,
            "login.html",
            {
                "login_csrf": token,
                "next_url": next_url,
                "error": error,
                "who": None,
                "csrf": "",
                "t": translate(request),
            },
            status_code=status,
        )
        _cookie(response, request, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=True,
            samesite="strict",
            secure=ws.secure_cookies or request.url.scheme == "https",
            path="/",
        )

    # --- health and login --------------------------------------------------------------------
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        """Liveness: answers without authentication and without touching customer data; says
        which published run is being served (a new one is indexed in the background)."""
        return {"status": "ok", "serving": ws.reader.serving()}

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        return _login_page(request, next_url=_safe_next(next))

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        username: str = Form(...),
        password: str = Form(...),
        csrf_token: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        if not same_token(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
            raise Refused(403, "error.login_expired")
        client = request.client.host if request.client else "unknown"
        keys = (f"user:{username}", f"addr:{client}")
        if ws.throttle.blocked(*keys):
            logger.warning("workspace: login throttled for %r from %s", username, client)
            return _login_page(
                request,
                status=429,
                next_url=_safe_next(next),
                error=translate(request)("login.throttled"),
            )
        user = ws.users.verify_password(username, password)
        if user is None:
            ws.throttle.failed(*keys)
            logger.info("workspace: failed login for %r from %s", username, client)
            return _login_page(
                request,
                status=401,
                next_url=_safe_next(next),
                error=translate(request)("login.wrong"),
            )
        ws.throttle.succeeded(keys[0])
        session = ws.sessions.create(user.name)
        response = RedirectResponse(_safe_next(next), status_code=303)
        _cookie(response, request, SESSION_COOKIE, session.id, max_age=int(ws.sessions.lifetime_s))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        logger.info("workspace: %s logged in from %s", user.name, client)
        return response

    @app.get("/language/{code}", include_in_schema=False)
    def set_language(request: Request, code: str, next: str = "/") -> Response:
        """A user's own choice of language, kept in a cookie; it wins over the browser's."""
        if code not in LANGUAGES:
            raise Refused(404, "error.unknown_language", code=code, languages=", ".join(LANGUAGES))
        response = RedirectResponse(_safe_next(next), status_code=303)
        _cookie(response, request, LANGUAGE_COOKIE, code, max_age=365 * 24 * 3600)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(who: Principal = Depends(principal)) -> Response:
        if who.session:
            ws.sessions.end(who.session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- pages -------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(
        request: Request,
        q: str = "",
        city: str = "",
        birth_year: str = "",
        who: Principal = Depends(principal),
    ) -> Response:
        year = int(birth_year) if birth_year.strip().isdigit() else None
        results = service.search(ws.context(who), q, city or None, year) if q.strip() else None
        if results and len(results) == 1 and request.headers.get("hx-request") is None:
            pass  # one hit still shows the list: the steward sees what matched and why
        return render(
            request, "search.html", who, q=q, city=city, birth_year=birth_year, results=results
        )

    @app.get("/customers/{golden_id}", response_class=HTMLResponse, include_in_schema=False)
    def customer_page(
        request: Request, golden_id: str, who: Principal = Depends(principal)
    ) -> Response:
        ctx = ws.context(who)
        current = service.resolve_id(ctx, golden_id)
        if current is None:
            t = translate(request)
            return render(
                request, "message.html", who, status=404, title=t("customer.not_found_title"),
                message=t("customer.not_found", id=golden_id),
            )  # fmt: skip
        if current != golden_id:
            return RedirectResponse(f"/customers/{url_quote(current)}", status_code=303)
        data = service.customer(ctx, golden_id)
        return render(request, "customer.html", who, c=data, fields=_pinnable())

    @app.post("/customers/{golden_id}/pin", include_in_schema=False)
    def pin_page(
        request: Request,
        golden_id: str,
        field: str = Form(...),
        value: str = Form(...),
        reason: str = Form(...),
        who: Principal = Depends(steward),
    ) -> Response:
        return _decide_then(request, who, [Pin(golden_id, field, value)], reason, golden_id)

    @app.post("/customers/{golden_id}/split", include_in_schema=False)
    def split_page(
        request: Request,
        golden_id: str,
        record_key: str = Form(...),
        reason: str = Form(...),
        back: str = Form("customer"),
        who: Principal = Depends(steward),
    ) -> Response:
        target = f"/clusters/{url_quote(golden_id)}" if back == "cluster" else None
        try:
            changes = _split_changes(ws.context(who), golden_id, record_key)
        except GoldenError as exc:
            return _not_recorded(request, who, exc, target or f"/customers/{url_quote(golden_id)}")
        return _decide_then(request, who, changes, reason, golden_id, target)

    @app.post("/customers/{golden_id}/confirm", include_in_schema=False)
    def confirm_customer(
        request: Request,
        golden_id: str,
        reason: str = Form(...),
        who: Principal = Depends(steward),
    ) -> Response:
        return _confirm_then(request, who, golden_id, reason, f"/customers/{url_quote(golden_id)}")

    @app.post("/quality/review-due/confirm", include_in_schema=False)
    def confirm_due(
        request: Request,
        target: str = Form(...),
        reason: str = Form(...),
        who: Principal = Depends(steward),
    ) -> Response:
        return _confirm_then(request, who, target, reason, "/quality/review-due")

    def _confirm_then(
        request: Request, who: Principal, target: str, reason: str, back: str
    ) -> Response:
        try:
            _, cleared = confirm_review(ws.config.warehouse.path, target, who.name, reason)
        except GoldenError as exc:
            return render(
                request, "message.html", who, status=400,
                title=translate(request)("decisions.not_confirmed"),
                message=translate(request).error(exc), back=back,
            )  # fmt: skip
        return RedirectResponse(f"{back}?confirmed={cleared}", status_code=303)

    def _not_recorded(request: Request, who: Principal, exc: GoldenError, back: str) -> Response:
        """The page saying a decision was refused, and why, in the reader's language."""
        return render(
            request, "message.html", who, status=400,
            title=translate(request)("decisions.not_recorded"),
            message=translate(request).error(exc), back=back,
        )  # fmt: skip

    def _decide_then(
        request: Request,
        who: Principal,
        changes: list[Change],
        reason: str,
        golden_id: str,
        target: str | None = None,
    ) -> Response:
        try:
            written = write_decisions(ws.config.warehouse.path, changes, who.name, reason)
        except GoldenError as exc:
            return _not_recorded(request, who, exc, target or f"/customers/{url_quote(golden_id)}")
        if who.session:
            ws.sessions.push_undo(who.session, (w.decision_id for w in written))
        return RedirectResponse(
            (target or f"/customers/{url_quote(golden_id)}") + "?recorded=" + str(len(written)),
            status_code=303,
        )

    @app.get("/clusters/{golden_id}", response_class=HTMLResponse, include_in_schema=False)
    def cluster_page(
        request: Request, golden_id: str, who: Principal = Depends(principal)
    ) -> Response:
        data = service.cluster(ws.context(who), golden_id)
        if data is None:
            t = translate(request)
            return render(
                request, "message.html", who, status=404, title=t("customer.not_found_title"),
                message=t("customer.not_found", id=golden_id),
            )  # fmt: skip
        return render(request, "cluster.html", who, c=data)

    @app.get("/review", response_class=HTMLResponse, include_in_schema=False)
    def review_page(
        request: Request,
        left: str | None = None,
        right: str | None = None,
        queue: Queue = "review",
        who: Principal = Depends(principal),
    ) -> Response:
        return render(request, "review.html", who, **_review_values(who, left, right, queue))

    def _review_values(
        who: Principal,
        left: str | None = None,
        right: str | None = None,
        queue: str = "review",
    ) -> dict[str, Any]:
        ctx = ws.context(who)
        skipped = who.session.skipped if who.session else set()
        pairs = service.review_pairs(ctx, skipped, limit=50, queue=queue)
        current = None
        if left and right:
            current = service.pair(ctx, left, right, queue)
        elif pairs["pairs"]:
            first = pairs["pairs"][0]
            current = service.pair(ctx, first["record_key_l"], first["record_key_r"], queue)
        undo = who.session.undo[-1] if who.session and who.session.undo else None
        return {"queue": pairs, "p": current, "undo": undo}

    @app.post("/review/decide", response_class=HTMLResponse, include_in_schema=False)
    def review_decide(
        request: Request,
        left: str = Form(...),
        right: str = Form(...),
        decision: str = Form(...),
        reason: str = Form(...),
        queue: Queue = Form("review"),
        who: Principal = Depends(steward),
    ) -> Response:
        t = translate(request)
        message, ok = None, False
        if decision == "skip":
            assert who.session is not None
            ws.sessions.skip(who.session, service._pair_key(left, right))
        elif decision in ("link", "no_link"):
            try:
                written = write_decisions(
                    ws.config.warehouse.path,
                    [Link(left, right, decision == "link")],
                    who.name,
                    reason,
                )
            except GoldenError as exc:
                message = t.error(exc)
            else:
                if who.session:
                    ws.sessions.push_undo(who.session, (w.decision_id for w in written))
                message = t("review.recorded_one", id=written[0].decision_id,
                            describe=_described(t, written[0]))  # fmt: skip
                ok = True
        else:
            raise Refused(400, "error.unknown_decision", decision=decision)
        return _review_fragment(request, who, message, ok, queue)

    @app.post("/review/bulk", response_class=HTMLResponse, include_in_schema=False)
    def review_bulk(
        request: Request,
        decision: str = Form(...),
        reason: str = Form(...),
        pair: list[str] = Form([]),
        queue: Queue = Form("review"),
        who: Principal = Depends(steward),
    ) -> Response:
        """Several pairs of the queue decided at once (ticked in the queue list)."""
        pairs = [_pair_of(value) for value in pair]
        if decision not in ("link", "no_link"):
            raise Refused(400, "error.unknown_decision", decision=decision)
        if not pairs:
            message = translate(request)("review.tick_first")
            return _review_fragment(request, who, message, queue=queue)
        changes: list[Change] = [Link(a, b, decision == "link") for a, b in pairs]
        try:
            written = write_decisions(ws.config.warehouse.path, changes, who.name, reason)
        except GoldenError as exc:
            return _review_fragment(request, who, translate(request).error(exc), queue)
        if who.session:
            ws.sessions.push_undo(who.session, (w.decision_id for w in written))
        kind = "must_link" if decision == "link" else "cannot_link"
        t = translate(request)
        message = t("review.recorded_many", count=len(written), kind=t.term("decision_kind", kind))
        return _review_fragment(request, who, message, ok=True, queue=queue)

    @app.post("/review/undo", response_class=HTMLResponse, include_in_schema=False)
    def review_undo(
        request: Request,
        reason: str = Form("undone in the review queue"),
        queue: Queue = Form("review"),
        who: Principal = Depends(steward),
    ) -> Response:
        t = translate(request)
        message, ok = t("review.nothing_to_undo"), False
        if who.session and who.session.undo:
            decision_id = who.session.undo[-1]
            try:
                write_decisions(ws.config.warehouse.path, [Revoke(decision_id)], who.name, reason)
            except GoldenError as exc:
                message = t.error(exc)
            else:
                ws.sessions.pop_undo(who.session, decision_id)
                message, ok = t("review.revoked", id=decision_id), True
        return _review_fragment(request, who, message, ok, queue)

    def _review_fragment(
        request: Request,
        who: Principal,
        message: str | None,
        ok: bool = False,
        queue: str = "review",
    ) -> Response:
        """The review page (or its body, for htmx) of ``queue`` with a message: ``ok`` for one
        that says a decision was recorded or revoked, otherwise shown as an error."""
        name = "review_body.html" if request.headers.get("hx-request") else "review.html"
        values = _review_values(who, queue=queue)
        return render(request, name, who, message=message, message_ok=ok, **values)

    @app.get("/quality", response_class=HTMLResponse, include_in_schema=False)
    def quality_page(request: Request, who: Principal = Depends(principal)) -> Response:
        data = service.scorecards(ws.context(who))
        accepted = {
            suite: [(r["run_id"], r["accepted_pct"]) for r in runs if r["accepted_pct"] is not None]
            for suite, runs in data["suites"].items()
        }
        scores: dict[str, list[tuple[str, float]]] = {}
        for row in data["scorecard"]:
            if row.get("score") is not None:
                scores.setdefault(row["source_system"], []).append((row["run_id"], row["score"]))
        return render(
            request,
            "quality.html",
            who,
            d=data,
            charts=_charts(accepted, "accepted", translate(request)),
            score_charts=_charts(scores, "score", translate(request)),
        )

    @app.get("/quality/quarantine", response_class=HTMLResponse, include_in_schema=False)
    def quarantine_page(
        request: Request,
        suite: str | None = None,
        offset: int = Query(0, ge=0),
        who: Principal = Depends(principal),
    ) -> Response:
        data = service.quarantine(ws.context(who), suite or None, 100, offset)
        return render(request, "quarantine.html", who, d=data, suite=suite, offset=offset)

    @app.get("/quality/review-due", response_class=HTMLResponse, include_in_schema=False)
    def review_due_page(request: Request, who: Principal = Depends(principal)) -> Response:
        data = service.review_due(ws.context(who))
        return render(request, "review_due.html", who, d=data)

    @app.get("/reports/{path:path}", include_in_schema=False)
    def report_file(path: str, who: Principal = Depends(principal)) -> Response:
        """The warehouse's offline reports (the Data Docs, the scorecard report) behind the same
        login, so stewards reach them wherever the warehouse lives (a container volume too).

        They list failing values unmasked, so an analyst is refused. The path is resolved inside
        ``reports/`` (links followed, then checked), and the pages keep their own strict policy:
        no script at all, inline styles allowed.
        """
        if who.user.masked:
            raise Refused(403, "error.reports_unmasked")
        root = (Path(ws.config.warehouse.path) / "reports").resolve()
        target = (root / (path or "data_docs")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            raise Refused(404, "error.no_report")
        response = FileResponse(target)
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'none'; frame-ancestors 'none'; form-action 'none'"
        )
        return response

    @app.get("/quality/charts", response_class=HTMLResponse, include_in_schema=False)
    def charts_page(request: Request, who: Principal = Depends(principal)) -> Response:
        """The match model's charts of every run that has them, newest first."""
        runs = [
            (run_id, [n for n in names if not (who.user.masked and n in PERSONAL_CHARTS)])
            for run_id, names in _match_charts(ws)
        ]
        return render(
            request,
            "charts.html",
            who,
            runs=runs,
            serving=ws.reader.serving(),
        )

    @app.get("/charts/{run_id}/{name}", include_in_schema=False)
    def chart_file(run_id: str, name: str, who: Principal = Depends(principal)) -> Response:
        """One of Splink's match charts (``runs/<run_id>/match/charts/<name>``) behind the
        login. The run id must be one of the warehouse's runs and the name a chart's file
        name, and the path is resolved (links followed) and checked to lie in that run's
        charts folder, so nothing else in the warehouse can be asked for. The pages carry
        their chart libraries inline (Vega compiles expressions with ``Function``), so they
        are served in a sandbox: an opaque origin with no cookies, no network, no forms.
        The waterfall shows compared values unmasked: analysts are refused it."""
        warehouse = ws.reader.warehouse
        if not re.fullmatch(CHART_NAME, name) or run_id not in warehouse.run_ids():
            raise Refused(404, "error.no_chart")
        if who.user.masked and name in PERSONAL_CHARTS:
            raise Refused(403, "error.reports_unmasked")
        root = (warehouse.match_dir(run_id) / "charts").resolve()
        target = (root / name).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise Refused(404, "error.no_chart")
        response = FileResponse(target, media_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = (
            "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' "
            "'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
            "form-action 'none'"
        )
        return response

    @app.get("/decisions", response_class=HTMLResponse, include_in_schema=False)
    def decisions_page(request: Request, who: Principal = Depends(principal)) -> Response:
        rows = service.decision_rows(ws.context(who))
        return render(request, "decisions.html", who, rows=rows[:500])

    @app.post("/decisions/{decision_id}/revoke", include_in_schema=False)
    def revoke_page(
        request: Request,
        decision_id: str,
        reason: str = Form(...),
        who: Principal = Depends(steward),
    ) -> Response:
        try:
            write_decisions(ws.config.warehouse.path, [Revoke(decision_id)], who.name, reason)
        except GoldenError as exc:
            return render(
                request, "message.html", who, status=400,
                title=translate(request)("decisions.not_revoked"),
                message=translate(request).error(exc), back="/decisions",
            )  # fmt: skip
        return RedirectResponse("/decisions", status_code=303)

    # --- JSON API ----------------------------------------------------------------------------
    @app.get("/api/me", tags=["account"])
    def api_me(who: Principal = Depends(principal)) -> dict[str, Any]:
        """Who the token or session belongs to, and what the role may do."""
        return {"name": who.name, "role": who.user.role, "can_decide": who.user.can_decide}

    @app.get("/api/search", tags=["customers"])
    def api_search(
        q: str = Query(..., min_length=1, description="E-mail, phone, any id, or a name."),
        city: str | None = Query(None, description="Narrows a name search."),
        birth_year: int | None = Query(None, ge=1800, le=2200),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        """Customers matching an identifier (exactly) or a name (fuzzy), best first."""
        ctx = ws.context(who)
        return {
            "run_id": ctx.snapshot.run_id,
            "results": _jsonable(service.search(ctx, q, city, birth_year)),
        }

    @app.get("/api/customers/{golden_id}", tags=["customers"])
    def api_customer(golden_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """The customer 360: golden record with provenance and status per field, source
        records raw and standardised, history, decisions, review reasons and pairs. An
        absorbed id answers with the customer that carries it now."""
        ctx = ws.context(who)
        current = service.resolve_id(ctx, golden_id)
        if current is None:
            raise HTTPException(404, f"no published customer has the golden id {golden_id}")
        data = service.customer(ctx, current)
        return _jsonable({**(data or {}), "requested_id": golden_id})

    @app.get("/api/customers/{golden_id}/cluster", tags=["customers"])
    def api_cluster(golden_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Every record of a golden id and the scored links between them."""
        data = service.cluster(ws.context(who), golden_id)
        if data is None:
            raise HTTPException(404, f"no published customer has the golden id {golden_id}")
        return _jsonable(data)

    @app.get("/api/review/pairs", tags=["review"])
    def api_pairs(
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        """Undecided review pairs, most uncertain first."""
        return _jsonable(service.review_pairs(ws.context(who), None, limit, offset))

    @app.get("/api/review/suggestions", tags=["review"])
    def api_suggestions(
        limit: int = Query(50, ge=1, le=1000),
        offset: int = Query(0, ge=0),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        """Undecided pairs suggested for labelling (active learning), the pair whose label
        teaches the model most first; decide them with ``POST /api/decisions``."""
        return _jsonable(service.review_pairs(ws.context(who), None, limit, offset, "training"))

    @app.get("/api/review/pair", tags=["review"])
    def api_pair(
        left: str, right: str, queue: Queue = "review", who: Principal = Depends(principal)
    ) -> dict[str, Any]:
        """One pair side by side, with the evidence waterfall and why it was held apart
        (``queue=training``: a pair suggested for labelling, with why it is offered)."""
        data = service.pair(ws.context(who), left, right, queue)
        if data is None:
            where = "suggested for training" if queue == "training" else "in the review queue"
            raise HTTPException(404, f"{left} ~ {right} is not {where}")
        return _jsonable(data)

    @app.get("/api/decisions", tags=["decisions"])
    def api_decisions(who: Principal = Depends(principal)) -> dict[str, Any]:
        """Every steward decision, newest first, with whether it still applies."""
        return {"decisions": service.decision_rows(ws.context(who))}

    @app.post("/api/decisions", tags=["decisions"], status_code=201)
    def api_decide(body: DecisionIn, who: Principal = Depends(steward)) -> dict[str, Any]:
        """Record a decision (stewards only); applies from the next run."""
        ctx = ws.context(who)
        if body.kind == "confirm":
            target = body.record_key or body.golden_id
            if not target:
                raise HTTPException(400, "a confirm needs record_key or golden_id")
            try:
                at, cleared = confirm_review(
                    ws.config.warehouse.path, target, who.name, body.reason
                )
            except RunLockedError as exc:
                raise HTTPException(409, str(exc)) from None
            except GoldenError as exc:
                raise HTTPException(400, str(exc)) from None
            return {"confirmed": target, "at": at.isoformat(), "review_due_cleared": cleared}
        try:
            changes = _changes_of(ctx, body)
            written = write_decisions(ws.config.warehouse.path, changes, who.name, body.reason)
        except RunLockedError as exc:  # a run, restore or erasure is in progress: try later
            raise HTTPException(409, str(exc)) from None
        except GoldenError as exc:
            raise HTTPException(400, str(exc)) from None
        return {
            "recorded": [
                {"decision_id": w.decision_id, "kind": w.kind, "describe": w.description}
                for w in written
            ]
        }

    @app.get("/api/quality/scorecards", tags=["quality"])
    def api_scorecards(who: Principal = Depends(principal)) -> dict[str, Any]:
        """Per-suite validation results over the runs kept, and ``dq_scorecard`` rows."""
        return _jsonable(service.scorecards(ws.context(who)))

    @app.get("/api/quality/quarantine", tags=["quality"])
    def api_quarantine(
        suite: str | None = None,
        limit: int = Query(100, ge=1, le=5000),
        offset: int = Query(0, ge=0),
        who: Principal = Depends(principal),
    ) -> dict[str, Any]:
        """Quarantined records with the failed check and the reason."""
        return _jsonable(service.quarantine(ws.context(who), suite, limit, offset))

    @app.get("/api/quality/review-due", tags=["quality"])
    def api_review_due(who: Principal = Depends(principal)) -> dict[str, Any]:
        """Records and golden records due for periodic review (when published)."""
        return _jsonable(service.review_due(ws.context(who)))

    def _changes_of(ctx: service.Context, body: DecisionIn) -> list[Change]:
        def need(*names: str) -> list[str]:
            values = [getattr(body, n) for n in names]
            missing = [n for n, v in zip(names, values, strict=True) if not v]
            if missing:
                raise GoldenError(f"a {body.kind} decision needs {', '.join(missing)}")
            return values

        if body.kind in ("link", "no_link"):
            if body.pairs:
                return [Link(a, b, body.kind == "link") for a, b in body.pairs]
            left, right = need("record_key_l", "record_key_r")
            return [Link(left, right, body.kind == "link")]
        if body.kind == "pin":
            golden_id, field, value = need("golden_id", "field", "value")
            return [Pin(golden_id, field, value)]
        if body.kind == "revoke":
            (decision_id,) = need("decision_id")
            return [Revoke(decision_id)]
        golden_id, record_key = need("golden_id", "record_key")
        return _split_changes(ctx, golden_id, record_key)

    return app


def _split_changes(ctx: service.Context, golden_id: str, record_key: str) -> list[Change]:
    """Split a record out of its golden id: a cannot-link to every other record of it."""
    keys = [r["record_key"] for r in ctx.snapshot.of_customers("customer_xref", [golden_id])]
    if record_key not in keys:
        raise WorkspaceError(
            ("error.not_a_record_of", {"record_key": record_key, "golden_id": golden_id})
        )
    if len(keys) < 2:
        raise WorkspaceError(
            ("error.only_record", {"record_key": record_key, "golden_id": golden_id})
        )
    return [Link(record_key, other, False) for other in keys if other != record_key]


def _pair_of(value: str) -> tuple[str, str]:
    """A ticked queue pair: a JSON list of its two record keys."""
    try:
        left, right = json.loads(value)
    except (ValueError, TypeError):
        raise Refused(400, "error.not_a_pair") from None
    if not isinstance(left, str) or not isinstance(right, str):
        raise Refused(400, "error.not_a_pair")
    return left, right


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _pinnable() -> list[str]:
    from pipelines.schema import GOLDEN_FIELDS

    return list(GOLDEN_FIELDS)


def _safe_next(target: str) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


def _charts(
    series: dict[str, list[tuple[str, float]]], measure: str, t: Translator
) -> dict[str, str]:
    """One small inline SVG per name: ``measure`` (a percentage) over the runs, oldest first;
    its label and tooltips in the reader's language."""
    words = t(f"chart.{measure}")
    from markupsafe import escape

    charts = {}
    width, height, pad = 360, 110, 24
    for name, points in series.items():
        if not points:
            continue
        low = min(min(v for _, v in points), 90.0)
        step = (width - 2 * pad) / max(len(points) - 1, 1)
        span = max(100 - low, 0.01)
        coords = [
            (pad + i * step, height - pad - (v - low) / span * (height - 2 * pad))
            for i, (_, v) in enumerate(points)
        ]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(run)}: {escape(words)} '
            f"{value:.2f}</title></circle>"
            for (x, y), (run, value) in zip(coords, points, strict=True)
        )
        charts[name] = (
            f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(t("chart.label", measure=words, name=name))}">'
            f'<line x1="{pad}" y1="{pad}" x2="{width - pad}" y2="{pad}" class="grid"/>'
            f'<text x="2" y="{pad + 4}" class="axis">100</text>'
            f'<text x="2" y="{height - pad + 4}" class="axis">{low:.0f}</text>'
            f'<polyline points="{line}"/>{dots}</svg>'
        )
    return charts


def _catalogue_ids() -> dict[str, str]:
    from pipelines.i18n import CATALOGUE

    return CATALOGUE["en"]


def _described(t: Translator, written: Any) -> str:
    """A recorded decision in the reader's language (its English text when it has no id)."""
    return t.say([written.message]) if written.message else written.description


def _match_charts(ws: Workspace) -> list[tuple[str, list[str]]]:
    """``(run id, chart file names)`` of every run with match charts on disk, newest first."""
    import re

    warehouse = ws.reader.warehouse
    found = []
    for run_id in reversed(warehouse.run_ids()):
        folder = warehouse.match_dir(run_id) / "charts"
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if re.fullmatch(CHART_NAME, p.name))
            if names:
                found.append((run_id, names))
    return found
