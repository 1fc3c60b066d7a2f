"""Workspace accounts: names, roles, Argon2id password hashes and hashed API tokens.

Kept in the warehouse (``state/workspace_users.json``) because accounts belong to the deployment
whose customer data they unlock, and ``state/`` is what backups and restores carry. The file is
owner-only (``0600``), rewritten whole through a temporary file and a rename under an exclusive
lock, so two ``golden users`` commands cannot lose each other's change and a crash leaves the
last good file. It never holds a password or a token: passwords as Argon2id hashes, tokens as
SHA-256 digests (a token is 256 random bits, so a fast digest is as good as a slow hash).

Roles map onto the privacy roles: a ``steward`` sees values unmasked and decides; a ``viewer``
sees them unmasked and cannot decide; an ``analyst`` sees every value through the ``analyst``
privacy role's masks and cannot decide.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.errors import GoldenError

Role = Literal["steward", "analyst", "viewer"]
ROLES: tuple[str, ...] = get_args(Role)
USERS_FILE = "workspace_users.json"
MIN_PASSWORD_LENGTH = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_TOKEN_PREFIX = "gw_"
_HASHER = PasswordHasher()  # Argon2id with the library's RFC 9106 "low memory" profile


class UserError(GoldenError):
    """An account cannot be created, changed or found."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str
    created_at: str
    tokens: tuple[dict[str, str], ...] = field(default=())

    @property
    def can_decide(self) -> bool:
        return self.role == "steward"

    @property
    def masked(self) -> bool:
        return self.role == "analyst"

    def public(self) -> dict[str, Any]:
        """What ``golden users list`` shows: never a hash."""
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "tokens": [t["id"] for t in self.tokens],
        }


def users_path(warehouse_root: str | os.PathLike[str]) -> Path:
    return Path(warehouse_root) / "state" / USERS_FILE


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class UserStore:
    """The accounts of one warehouse. Reads are cached by the file's identity (inode, size,
    modification time), so a server checks every request against the current file cheaply and
    a removed user or revoked token stops working at once."""

    def __init__(self, warehouse_root: str | os.PathLike[str]):
        self.path = users_path(warehouse_root)
        self._cache: tuple[tuple[int, int, int], dict[str, User]] | None = None

    # --- reading -------------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        users = self._parse(self.path.read_text(encoding="utf-8"))
        self._cache = (key, users)
        return users

    def get(self, name: str) -> User | None:
        return self.users().get(name)

    def verify_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs; None otherwise (also for unknown names, after
        the same amount of hashing work, so response time does not reveal which names exist)."""
        user = self.get(name)
        target = user.password_hash if user else _DUMMY_HASH
        try:
            _HASHER.verify(target, password)
        except (VerificationError, InvalidHashError):
            return None
        return user

    def verify_token(self, token: str) -> User | None:
        if not token.startswith(_TOKEN_PREFIX):
            return None
        digest = _digest(token)
        for user in self.users().values():
            for entry in user.tokens:
                if hmac.compare_digest(entry["sha256"], digest):
                    return user
        return None

    # --- writing -------------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> User:
        if not _NAME.match(name):
            raise UserError(
                f"user name {name!r} must be 1-64 letters, digits or . _ @ - (starting with a "
                "letter or digit)"
            )
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        with self._editing() as users:
            if name in users:
                raise UserError(f"user {name!r} exists already; remove it first to recreate it")
            user = User(name, role, _HASHER.hash(password), _now())  # type: ignore[arg-type]
            users[name] = user
        return user

    def remove(self, name: str) -> None:
        with self._editing() as users:
            if name not in users:
                raise UserError(f"no user {name!r} in {self.path}")
            del users[name]

    def new_token(self, name: str) -> str:
        """A new API token for ``name``; shown once, only its digest is kept."""
        token_id = secrets.token_hex(4)
        token = f"{_TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        with self._editing() as users:
            user = users.get(name)
            if user is None:
                raise UserError(f"no user {name!r} in {self.path}")
            entry = {"id": token_id, "sha256": _digest(token), "created_at": _now()}
            users[name] = User(
                user.name, user.role, user.password_hash, user.created_at, (*user.tokens, entry)
            )
        return token

    @contextmanager
    def _editing(self) -> Iterator[dict[str, User]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
            users = self._parse(text) if text else {}
            yield users
            self._write(users)
        finally:
            os.close(fd)

    def _write(self, users: dict[str, User]) -> None:
        payload = {
            "version": 1,
            "users": [
                {
                    "name": u.name,
                    "role": u.role,
                    "password_hash": u.password_hash,
                    "created_at": u.created_at,
                    "tokens": list(u.tokens),
                }
                for u in sorted(users.values(), key=lambda u: u.name)
            ],
        }
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._cache = None

    def _parse(self, text: str) -> dict[str, User]:
        try:
            payload = json.loads(text)
            users = {}
            for entry in payload["users"]:
                if entry["role"] not in ROLES:
                    raise ValueError(f"user {entry['name']!r} has unknown role {entry['role']!r}")
                users[entry["name"]] = User(
                    entry["name"],
                    entry["role"],
                    entry["password_hash"],
                    entry["created_at"],
                    tuple(entry.get("tokens", [])),
                )
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(
                f"{self.path} is not a valid workspace users file ({exc}); restore it from a "
                "backup or remove it and add the users again"
            ) from None
        return users


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
