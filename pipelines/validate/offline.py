"""Make a GX Data Docs site work offline and contact no third party.

GX's page templates load jQuery, Bootstrap, bootstrap-table, Font Awesome and Vega from public
CDNs and the GX logo from GX's servers with the data context id in the address. Offline (air-gapped
customer sites, these machines) the index renders an empty table; online every page view reports
to third parties. This module copies the vendored copies (``assets/``, taken unchanged from the npm
packages listed in ``assets/manifest.json`` with their licences) into the site and rewrites every
page to use them:

- ``<script src>`` / ``<link href>`` addresses listed in the manifest point to the local copy;
  their ``integrity``/``crossorigin`` attributes go (a ``file://`` page cannot make CORS requests);
- images from GX's asset host (the logo beacon) point to GX's own copy in ``static/images``;
- ``url(http...)`` in inline styles and GX's stylesheets point to the same local images;
- any other remote script, stylesheet or image is removed, with a warning naming it, so a GX
  upgrade that adds a CDN asset degrades a page rather than leaking.

Rewriting is idempotent; each build rewrites what was written since the last completed pass,
so pages written by an interrupted earlier build are fixed by the next one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).parent / "assets"
VENDOR_DIR = Path("static") / "vendor"
"""Where vendored files go inside the site."""
GX_ASSET_HOST = "great-expectations-web-assets.s3.us-east-2.amazonaws.com"
GX_IMAGES_DIR = Path("static") / "images"

# A script element with its (empty) body, or a void link/img tag: removing one leaves no orphan.
_TAG = re.compile(r"<script\b[^>]*>(?:\s*</script>)?|<(?:link|img)\b[^>]*>", re.IGNORECASE)
_REMOTE_ATTR = re.compile(r"""\s(src|href)\s*=\s*(["'])(https?://[^"']*)\2""", re.IGNORECASE)
_SRI_ATTR = re.compile(r"""\s(integrity|crossorigin)(\s*=\s*(["'])[^"']*\3)?""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(["']?)(https?://[^"')]*)\1\s*\)""", re.IGNORECASE)
_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.DOTALL)


@cache
def manifest() -> dict[str, object]:
    return json.loads((ASSETS_DIR / "manifest.json").read_text(encoding="utf-8"))


def cdn_map() -> dict[str, str]:
    """CDN address -> file under ``assets/``."""
    urls = manifest()["urls"]
    assert isinstance(urls, dict)
    return dict(urls)


def make_offline(site: Path) -> list[Path]:
    """Install the vendored assets into ``site`` and rewrite its pages; returns pages changed.

    Only files written since the last completed pass are read (the site accumulates every run,
    and GX rewrites just the pages of the run it built plus the index); the pass's start time
    is recorded in ``.offline_pass`` once it completes, so pages left by an interrupted build
    are still newer than the mark and get rewritten by the next one.
    """
    site = Path(site)
    started = time.time()
    marker = site / ".offline_pass"
    since = marker.stat().st_mtime - 2 if marker.is_file() else 0.0  # 2 s for coarse clocks
    _install_assets(site)
    changed = []
    vendor = site / VENDOR_DIR
    for path in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        if path.is_relative_to(vendor) or path.stat().st_mtime < since:
            continue  # vendored files stay byte-identical; older files were done before
        text = path.read_text(encoding="utf-8")
        rewrite = rewrite_page if path.suffix == ".html" else rewrite_stylesheet
        rewritten = rewrite(text, path, site)
        if rewritten != text:
            path.write_text(rewritten, encoding="utf-8")
            changed.append(path)
    marker.touch()
    os.utime(marker, (started, started))
    logger.info("made %d Data Docs page(s) offline under %s", len(changed), site)
    return changed


def rewrite_page(html: str, page: Path, site: Path) -> str:
    """Point every remote asset of one page at the site's local copies."""
    to_root = Path(os.path.relpath(site, page.parent))
    mapping = cdn_map()

    def local(path: Path) -> str:
        return (to_root / path).as_posix()

    def fix_tag(match: re.Match[str]) -> str:
        tag = match.group(0)
        remote = _REMOTE_ATTR.search(tag)
        if remote is None:
            return tag
        url = remote.group(3)
        base = url.split("?", 1)[0]
        if base in mapping:
            target = local(VENDOR_DIR / mapping[base])
        elif _gx_image(base, site) is not None:
            target = local(_gx_image(base, site))  # type: ignore[arg-type]
        else:
            logger.warning(
                "removed remote asset %s from %s: add it to %s to serve it locally",
                url,
                page,
                ASSETS_DIR / "manifest.json",
            )
            return ""
        tag = tag[: remote.start(3)] + target + tag[remote.end(3) :]
        return _SRI_ATTR.sub("", tag)

    def fix_style(match: re.Match[str]) -> str:
        css = rewrite_stylesheet(match.group(2), page, site)
        return match.group(1) + css + match.group(3)

    html = _TAG.sub(fix_tag, html)
    return _STYLE_BLOCK.sub(fix_style, html)


def rewrite_stylesheet(css: str, path: Path, site: Path) -> str:
    """CSS ``url(http...)``: GX's images to the site's copies, anything else to ``none``."""
    to_root = Path(os.path.relpath(site, path.parent))

    def fix(match: re.Match[str]) -> str:
        image = _gx_image(match.group(2).split("?", 1)[0], site)
        return f"url('{(to_root / image).as_posix()}')" if image is not None else "none"

    return _CSS_URL.sub(fix, css)


def remote_assets(html: str) -> list[str]:
    """Remote addresses a page would load (scripts, stylesheets, images, CSS urls)."""
    found = []
    for match in _TAG.finditer(html):
        remote = _REMOTE_ATTR.search(match.group(0))
        if remote is not None and not _is_link(match.group(0)):
            found.append(remote.group(3))
    for block in _STYLE_BLOCK.finditer(html):
        found += [m.group(2) for m in _CSS_URL.finditer(block.group(2))]
    return found


def _is_link(tag: str) -> bool:
    """A ``<link>`` that loads nothing (e.g. ``rel=canonical``) is not an asset."""
    if not tag.lower().startswith("<link"):
        return False
    rel = re.search(r"""rel\s*=\s*["']([^"']*)""", tag, re.IGNORECASE)
    loads = {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest"}
    return rel is not None and not (set(rel.group(1).lower().split()) & loads)


def _gx_image(url: str, site: Path) -> Path | None:
    """GX's copy of an image from its asset host, when the site has it (the logo does)."""
    prefix = f"https://{GX_ASSET_HOST}/"
    if not url.startswith(prefix):
        return None
    name = url[len(prefix) :]
    candidate = GX_IMAGES_DIR / name
    return candidate if (site / candidate).is_file() else None


def _install_assets(site: Path) -> None:
    for relative in sorted(set(cdn_map().values()) | _licence_files()):
        source = ASSETS_DIR / relative
        target = site / VENDOR_DIR / relative
        if not source.is_file():
            raise FileNotFoundError(f"vendored asset {source} is missing from the package")
        if target.is_file() and _digest(target) == _digest(source):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    # Font Awesome's stylesheet loads its fonts from ../webfonts/ beside it.
    fonts = ASSETS_DIR / "fontawesome-free-6.6.0" / "webfonts"
    for font in sorted(fonts.iterdir()):
        target = site / VENDOR_DIR / "fontawesome-free-6.6.0" / "webfonts" / font.name
        if not target.is_file() or _digest(target) != _digest(font):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(font, target)


def _licence_files() -> set[str]:
    packages = manifest()["packages"]
    assert isinstance(packages, list)
    return {p["license_file"] for p in packages}


@cache
def _digest_of(path: str, size: int, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digest(path: Path) -> str:
    stat = path.stat()
    return _digest_of(str(path), stat.st_size, stat.st_mtime)
