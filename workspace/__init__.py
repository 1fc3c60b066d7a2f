"""The stewards' workspace: a web app on the published golden tables (``golden serve``).

Front door: :func:`create_app` builds the FastAPI application for a configuration,
:func:`serve` runs it with uvicorn (one process or ``--workers N``), :class:`UserStore` keeps
the accounts and :func:`workspace.security.open_session_store` the sessions every server process
on a warehouse shares. Pages and the JSON
API read through :mod:`workspace.data` (the published version and its search index) and
:mod:`workspace.service` (one function per page); decisions go through
:func:`pipelines.stewardship.write_decisions`, the code the ``golden review`` CLI uses.
See ``docs/workspace.md``.
"""

from __future__ import annotations

from workspace.app import create_app
from workspace.server import serve
from workspace.users import ROLES, UserStore

__all__ = ["ROLES", "UserStore", "create_app", "serve"]
