"""One-off initialisation of the docker-compose stack (the ``airflow-init`` service).

Runs before any Airflow service starts, and is safe to run again on every ``docker compose up``:

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

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

logger = logging.getLogger("golden.init_stack")


class InitError(Exception):
    """The stack cannot be initialised; the message says what to fix."""


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise InitError(f"environment variable {name} is not set (see docker/.env.example)")
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


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        # Secrets first: a missing one fails in a second, not after the migration.
        config_path = require_env("GOLDEN_CONFIG")
        password = require_env("AIRFLOW_ADMIN_PASSWORD")
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


if __name__ == "__main__":
    sys.exit(main())
