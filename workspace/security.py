"""Sessions, CSRF tokens and login throttling for the workspace.

Sessions live in the server's memory, keyed by a 256-bit random id in an ``HttpOnly``,
``SameSite=Strict`` cookie (``Secure`` whenever the request came over HTTPS, or always with
``--secure-cookies``): nothing about the user is in the cookie, a restart logs everybody out,
and logging out or removing the user ends the session at once. Each session has its own CSRF
token; every form carries it and every state-changing request must send it back (form field
or ``X-CSRF-Token`` header), compared in constant time. The login form, before a session
exists, uses a double-submit token (a cookie and a form field that must match).

Login throttling counts failures per user name and per client address in a sliding window:
after ``max_failures`` the name (or address) is refused for the rest of the window, whatever
the password, so guessing is slow and a locked-out steward only waits.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_COOKIE = "golden_session"
LOGIN_CSRF_COOKIE = "golden_login_csrf"


@dataclass
class Session:
    id: str
    user: str
    csrf: str
    expires: float
    undo: list[str] = field(default_factory=list)
    """Decision ids this session recorded, newest last: what "undo" revokes."""
    skipped: set[tuple[str, str]] = field(default_factory=set)


class Sessions:
    def __init__(self, lifetime_s: float = 8 * 3600, clock: Callable[[], float] = time.monotonic):
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            expires=self._clock() + self.lifetime_s,
        )
        with self._lock:
            now = self._clock()
            for key in [k for k, s in self._sessions.items() if s.expires <= now]:
                del self._sessions[key]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def end_user(self, user: str) -> None:
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.user == user]:
                del self._sessions[key]


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class LoginThrottle:
    """Failed logins per key (a user name, a client address) in a sliding window."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        now = self._clock()
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        with self._lock:
            return any(len(self._recent(k)) >= self.max_failures for k in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._recent(key).append(self._clock())

    def succeeded(self, name_key: str) -> None:
        with self._lock:
            self._failures.pop(name_key, None)
