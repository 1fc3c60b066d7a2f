"""Running the workspace: uvicorn on 127.0.0.1 unless told otherwise.

Bound to the loopback address by default, so customer data is not on the network until an
operator decides it should be; the documented way to expose it is a reverse proxy with TLS in
front (``docs/workspace.md``), with ``--forwarded-allow-ips`` naming that proxy so the
workspace knows requests came over HTTPS and marks its cookies ``Secure``.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    config: PipelineConfig,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    secure_cookies: bool | None = None,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve the workspace until interrupted. ``secure_cookies`` None: ``Secure`` cookies
    whenever a request came over HTTPS, and always when bound beyond the loopback address."""
    import uvicorn

    from workspace.app import create_app

    secure = (not is_loopback(host)) if secure_cookies is None else secure_cookies
    app = create_app(config, secure_cookies=secure)
    try:
        app.state.workspace.reader.warm()
    except Exception as exc:  # noqa: BLE001 - the server still starts and says what is missing
        logger.warning("workspace: %s", exc)
    if not is_loopback(host):
        logger.warning(
            "workspace: listening on %s, beyond this machine; put a TLS reverse proxy in front "
            "(docs/workspace.md)",
            host,
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
    )
