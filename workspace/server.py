"""Running the workspace: uvicorn on 127.0.0.1 unless told otherwise.

Bound to the loopback address by default, so customer data is not on the network until an
operator decides it should be; the documented way to expose it is a reverse proxy with TLS in
front (``docs/workspace.md``), with ``--forwarded-allow-ips`` naming that proxy so the
workspace knows requests came over HTTPS and marks its cookies ``Secure``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.errors import GoldenError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


FACTORY_ENV = "GOLDEN_WORKSPACE_SERVE"
"""How ``golden serve --workers N`` tells each uvicorn worker process what to serve (JSON)."""


def serve(
    config: PipelineConfig,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    secure_cookies: bool | None = None,
    forwarded_allow_ips: str | None = None,
    workers: int = 1,
    sessions_url: str | None = None,
) -> None:
    """Serve the workspace until interrupted. ``secure_cookies`` None: ``Secure`` cookies
    whenever a request came over HTTPS, and always when bound beyond the loopback address.

    With ``workers`` > 1 uvicorn starts that many processes, each building the application
    from the configuration file again (:func:`app_from_environment`); they share sessions and
    the login throttle through the session store, so any of them may answer any request."""
    import uvicorn

    secure = (not is_loopback(host)) if secure_cookies is None else secure_cookies
    if not is_loopback(host):
        logger.warning(
            "workspace: listening on %s, beyond this machine; put a TLS reverse proxy in front "
            "(docs/workspace.md)",
            host,
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "proxy_headers": forwarded_allow_ips is not None,
        "forwarded_allow_ips": forwarded_allow_ips,
        "server_header": False,
    }
    if workers <= 1:
        uvicorn.run(_build(config, secure, sessions_url), **options)
        return
    if config.config_path is None:
        raise GoldenError(
            "golden serve --workers needs the configuration as a file: each worker process "
            "loads it again"
        )
    # Fail here, once, with the reason, rather than in every worker.
    _build(config, secure, sessions_url, warm=False).state.workspace.sessions.close()
    os.environ[FACTORY_ENV] = json.dumps(
        {
            "config": str(config.config_path),
            "warehouse": str(Path(config.warehouse.path).resolve()),
            "secure_cookies": secure,
            "sessions_url": sessions_url,
        }
    )
    uvicorn.run("workspace.server:app_from_environment", factory=True, workers=workers, **options)


def app_from_environment() -> FastAPI:
    """The application of one ``--workers`` process, from what :func:`serve` put in
    ``GOLDEN_WORKSPACE_SERVE``."""
    from pipelines.config import load_config

    settings = json.loads(os.environ[FACTORY_ENV])
    config = load_config(Path(settings["config"]), {"warehouse.path": settings["warehouse"]})
    return _build(config, settings["secure_cookies"], settings["sessions_url"])


def _build(
    config: PipelineConfig, secure: bool, sessions_url: str | None, *, warm: bool = True
) -> FastAPI:
    from workspace.app import create_app

    app = create_app(config, secure_cookies=secure, sessions_url=sessions_url)
    if warm:
        try:
            app.state.workspace.reader.warm()
        except Exception as exc:  # noqa: BLE001 - the server still starts and says what is missing
            logger.warning("workspace: %s", exc)
    return app
