"""The API docs pages (Swagger UI, ReDoc) with their JavaScript and CSS served by the service.

FastAPI's default pages load their scripts from a CDN, so on a machine without internet they
are blank. The assets come from the pinned `fastapi-standalone-docs` package (swagger-ui-dist
and redoc's standalone bundle, with their licences); only its files are used, not its
`StandaloneDocs` class, which patches FastAPI module-wide. The package's redoc bundle asks for
its logo next to the page (`<page>/logo-mini.svg`) instead of at Redocly's CDN, so that file is
answered there too.

The pages carry no inline script or style, so that their Content-Security-Policy
(`portal_web.security_headers`) can allow scripts and styles from the service only (ReDoc's
page admits by hash the two style elements its bundle inserts):
Swagger UI is started by `docs_static/portal/swagger-init.js` from settings the page carries as
JSON in a data attribute; the OAuth2 redirect page's script and ReDoc's page style are files too.

Everything lives under the service's prefix, so the gateway routes it like any other path:
`<prefix>/docs`, `<prefix>/docs/oauth2-redirect`, `<prefix>/redoc`, `<prefix>/docs/static/...`.
"""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from portal_web.security_headers import html_policy

_ASSETS_PACKAGE = "fastapi_standalone_docs"
_ASSETS_DIRECTORY = "static"  # holds swagger/, redoc/ and fastapi/ (the favicon)
# The kit's own files for the pages, under portal/ beside the package's directories.
_KIT_ASSETS = ("portal_web", "docs_static")

# ReDoc's bundle (fastapi-standalone-docs 0.3.0, pinned) inserts two <style> elements itself:
# styled-components' one, left empty (it adds rules through the CSSOM, which CSP does not
# govern), and perfect-scrollbar's stylesheet. Their hashes admit exactly those two. Its search
# index runs in a worker made from a blob: URL. A new bundle may need new hashes: the browser's
# console names them.
_REDOC_POLICY = html_policy(
    inline_styles=(
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
        "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's CSS
    ),
    workers=("blob:",),
)

_SWAGGER_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
<link rel="stylesheet" href="{static}/swagger/swagger-ui.css">
<link rel="icon" href="{static}/fastapi/favicon.png">
</head>
<body>
<div id="swagger-ui" data-config="{config}"></div>
<script src="{static}/swagger/swagger-ui-bundle.js"></script>
<script src="{static}/portal/swagger-init.js"></script>
</body>
</html>
"""

_OAUTH2_REDIRECT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Swagger UI: OAuth2 Redirect</title>
</head>
<body>
<script src="{static}/portal/oauth2-redirect.js"></script>
</body>
</html>
"""

_REDOC_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{static}/portal/redoc.css">
<link rel="icon" href="{static}/fastapi/favicon.png">
</head>
<body>
<noscript>ReDoc needs JavaScript to show the documentation.</noscript>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{static}/redoc/redoc.standalone.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI, prefix: str, title: str) -> None:
    """Serve Swagger UI at `<prefix>/docs` and ReDoc at `<prefix>/redoc` from local assets.

    The app must be created with `docs_url=None, redoc_url=None` and an `openapi_url`. Call this
    before including routers whose paths could capture `<prefix>/docs` or `<prefix>/redoc`
    (e.g. `<prefix>/{id}`): Starlette serves the first route that matches.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("install_docs needs an app with an openapi_url")
    docs_url = f"{prefix}/docs"
    redoc_url = f"{prefix}/redoc"
    oauth2_redirect_url = f"{docs_url}/oauth2-redirect"
    static_url = f"{docs_url}/static"
    redoc_logo = (
        files(_ASSETS_PACKAGE).joinpath(_ASSETS_DIRECTORY, "redoc", "logo-mini.svg").read_bytes()
    )

    app.mount(
        static_url,
        StaticFiles(packages=[(_ASSETS_PACKAGE, _ASSETS_DIRECTORY), _KIT_ASSETS]),
        name="docs-static",
    )

    def root_path(request: Request) -> str:
        # Non-empty only behind a proxy that strips a prefix; FastAPI's own pages honour it too.
        return request.scope.get("root_path", "").rstrip("/")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = root_path(request)
        config: dict[str, Any] = {
            **swagger_ui_default_parameters,
            **(app.swagger_ui_parameters or {}),
            "url": root + openapi_url,
            "oauth2RedirectUrl": root + oauth2_redirect_url,  # the script prefixes the origin
        }
        if app.swagger_ui_init_oauth:
            config["initOAuth"] = app.swagger_ui_init_oauth
        page = _SWAGGER_PAGE.format(
            title=escape(f"{title} - Swagger UI"),
            static=escape(root + static_url),
            config=escape(json.dumps(config), quote=True),
        )
        return HTMLResponse(page)

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect(request: Request) -> HTMLResponse:
        return HTMLResponse(
            _OAUTH2_REDIRECT_PAGE.format(static=escape(root_path(request) + static_url))
        )

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = root_path(request)
        page = _REDOC_PAGE.format(
            title=escape(f"{title} - ReDoc"),
            static=escape(root + static_url),
            openapi_url=escape(root + openapi_url),
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": _REDOC_POLICY})

    @app.get(f"{redoc_url}/logo-mini.svg", include_in_schema=False)
    async def redoc_logo_image() -> Response:
        return Response(redoc_logo, media_type="image/svg+xml")
