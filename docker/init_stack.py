"""One-off initialisation of the docker-compose stack (the ``airflow-init`` service).

Runs before any Airflow service starts, and is safe to run again on every ``docker compose up``.
``--check-secrets`` (the ``check-secrets`` service, which every service that reads a secret
waits for, PostgreSQL and SeaweedFS included) only checks the secrets of ``docker/.env``: a value
left at a placeholder such as ``CHANGE-ME``, or one too short or malformed to be a real key, stops
the stack before anything is created with it. Without the flag:

1. ``airflow db migrate`` on the metadata database;
2. the admin user: the auth manager of this Airflow install (SimpleAuthManager) reads users from
   ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS`` and their passwords from a JSON file; the admin's
   password is written there from ``AIRFLOW_ADMIN_PASSWORD`` (a secret from ``.env``), so no
   password is generated into the logs;
3. the backup bucket named in the pipeline config, created on the object store if missing;
4. a check that the warehouse folder of the config is writable.

Every failure names the variable or key to fix and exits non-zero, so the services that depend
on this one (``service_completed_successfully``) do not start on a half-initialised stack.
"""

from __future__ import annotations

import argparse
import binascii
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from base64 import urlsafe_b64decode
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("golden.init_stack")


class InitError(Exception):
    """The stack cannot be initialised; the message says what to fix."""


TOKEN_HOWTO = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
FERNET_HOWTO = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


@dataclass(frozen=True)
class Secret:
    """A secret of ``docker/.env``: how long it must be, its format, how to make one."""

    name: str
    min_length: int
    fernet: bool = False

    @property
    def howto(self) -> str:
        return FERNET_HOWTO if self.fernet else TOKEN_HOWTO


SECRETS: tuple[Secret, ...] = (
    Secret("POSTGRES_PASSWORD", 16),
    Secret("AIRFLOW_FERNET_KEY", 44, fernet=True),
    Secret("AIRFLOW_JWT_SECRET", 32),
    Secret("AIRFLOW_API_SECRET_KEY", 32),
    Secret("AIRFLOW_ADMIN_PASSWORD", 12),
    # The S3 access key is an identifier, not a secret, but it must not be a guessable default.
    Secret("S3_ACCESS_KEY", 8),
    Secret("S3_SECRET_KEY", 32),
    Secret("GOLDEN_SUPPRESSION_SALT", 32),
)
"""Every secret of ``docker/.env`` (the ``CHANGE-ME`` entries of ``docker/.env.example``)."""

# Values copied from an example or left as a default: compared with case, spaces, dashes and
# underscores removed, so "CHANGE-ME", "change_me" and "<change me>" are all caught.
PLACEHOLDERS = frozenset(
    {
        "changeme",
        "changeit",
        "replaceme",
        "setme",
        "fillme",
        "secret",
        "password",
        "passw0rd",
        "admin",
        "airflow",
        "postgres",
        "default",
        "example",
        "test",
        "todo",
        "fixme",
        "none",
        "null",
        "minioadmin",
        "seaweedfs",
        "any",
    }
)
PLACEHOLDER_MARKERS = ("changeme", "replaceme", "yoursecret", "yourpassword", "yourkey")


def placeholder_reason(value: str) -> str | None:
    """Why ``value`` is an obvious placeholder rather than a secret, or None."""
    folded = re.sub(r"[\s\-_<>{}\[\]().'\"]", "", value).lower()
    if folded in PLACEHOLDERS or any(marker in folded for marker in PLACEHOLDER_MARKERS):
        return f"it is the placeholder {value!r}"
    if len(set(value)) == 1:
        return f"it is one character repeated ({value[0]!r})"
    return None


def secret_problem(secret: Secret, value: str) -> str | None:
    """What is wrong with this secret's value, as one sentence ending in how to fix it; or None."""
    value = value.strip()
    if not value:
        problem = "is not set"
    elif reason := placeholder_reason(value):
        problem = f"must be replaced: {reason}"
    elif secret.fernet and not _is_fernet_key(value):
        problem = "is not a Fernet key (32 random bytes, url-safe base64: 44 characters)"
    elif len(value) < secret.min_length:
        problem = f"is too short ({len(value)} characters; at least {secret.min_length})"
    else:
        return None
    return f"{secret.name} in docker/.env {problem}; generate one with: {secret.howto}"


def _is_fernet_key(value: str) -> bool:
    try:
        return len(urlsafe_b64decode(value.encode("ascii"))) == 32 and len(value) == 44
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False


def check_secrets(environ: Mapping[str, str]) -> list[str]:
    """One message per secret of ``docker/.env`` that is missing, a placeholder or malformed."""
    return [
        problem
        for secret in SECRETS
        if (problem := secret_problem(secret, environ.get(secret.name, ""))) is not None
    ]


def require_env(name: str) -> str:
    """A variable's value; a placeholder (``CHANGE-ME``) counts as not set."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise InitError(f"environment variable {name} is not set (see docker/.env.example)")
    if reason := placeholder_reason(value):
        raise InitError(
            f"environment variable {name} must be replaced in docker/.env: {reason}; "
            f"generate one with: {TOKEN_HOWTO}"
        )
    return value


def migrate_metadata_db() -> None:
    logger.info("migrating the Airflow metadata database")
    subprocess.run(["airflow", "db", "migrate"], check=True)


def write_admin_password(password: str) -> Path:
    """Write the SimpleAuthManager password file with the admin's password from the env."""
    users = require_env("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS")
    path = Path(require_env("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"))
    names = [entry.split(":", 1)[0].strip() for entry in users.split(",") if entry.strip()]
    if "admin" not in names:
        raise InitError(
            f"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS must contain 'admin:admin' (got {users!r})"
        )
    existing = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
    existing["admin"] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".passwords.")
    with os.fdopen(fd, "w") as handle:
        json.dump(existing, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    logger.info("admin user ready (password file %s)", path)
    return path


def ensure_backup_bucket(config_path: str) -> str | None:
    """Create the config's backup bucket on the object store when it does not exist yet."""
    import boto3
    from botocore.exceptions import ClientError

    from pipelines.config import load_config

    config = load_config(config_path)
    backup = config.backup
    if not backup.enabled:
        logger.info("backup.enabled is false in %s: no bucket to create", config_path)
        return None
    client = boto3.client(
        "s3",
        endpoint_url=os.environ.get("GOLDEN_S3_ENDPOINT") or backup.endpoint_url,
        region_name=backup.region,
        aws_access_key_id=require_env(backup.access_key_env),
        aws_secret_access_key=require_env(backup.secret_key_env),
    )
    try:
        client.head_bucket(Bucket=backup.bucket)
        logger.info("backup bucket %s exists", backup.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise InitError(f"cannot reach backup bucket {backup.bucket!r}: {exc}") from exc
        client.create_bucket(Bucket=backup.bucket)
        logger.info("created backup bucket %s", backup.bucket)
    return backup.bucket


def check_warehouse(config_path: str) -> Path:
    from pipelines.config import load_config

    root = Path(load_config(config_path).warehouse.path)
    root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK):
        raise InitError(
            f"warehouse.path {root} is not writable by uid {os.getuid()}: fix the volume's owner"
        )
    logger.info("warehouse %s is writable", root)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check-secrets",
        action="store_true",
        help="only check the secrets of docker/.env (the check-secrets service)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.check_secrets:
        problems = check_secrets(os.environ)
        for problem in problems:
            logger.error("%s", problem)
        if problems:
            logger.error("the stack does not start until every secret above is set in docker/.env")
            return 1
        logger.info("the %d secrets of docker/.env are set", len(SECRETS))
        return 0
    try:
        # Secrets first: a missing one fails in a second, not after the migration.
        config_path = require_env("GOLDEN_CONFIG")
        password = require_env("AIRFLOW_ADMIN_PASSWORD")
        if problem := secret_problem(_secret("AIRFLOW_ADMIN_PASSWORD"), password):
            raise InitError(problem)
        migrate_metadata_db()
        write_admin_password(password)
        ensure_backup_bucket(config_path)
        check_warehouse(config_path)
    except (InitError, subprocess.CalledProcessError) as exc:
        logger.error("stack initialisation failed: %s", exc)
        return 1
    except Exception as exc:  # noqa: BLE001 - e.g. a ConfigError: say so, then fail the service
        logger.error("stack initialisation failed: %s: %s", type(exc).__name__, exc)
        return 1
    logger.info("stack initialised")
    return 0


def _secret(name: str) -> Secret:
    return next(secret for secret in SECRETS if secret.name == name)


if __name__ == "__main__":
    sys.exit(main())
