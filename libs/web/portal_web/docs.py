"""The API docs pages (Swagger UI, ReDoc) with their JavaScript and CSS served by the service.

FastAPI's default pages load their scripts from a CDN, so on a machine without internet they
are blank. The assets come from the pinned `fastapi-standalone-docs` package (swagger-ui-dist
and redoc's standalone bundle, with their licences); only its files are used, not its
`StandaloneDocs` class, which patches FastAPI module-wide. The package's redoc bundle asks for
its logo next to the page (`<page>/logo-mini.svg`) instead of at Redocly's CDN, so that file is
answered there too.

Everything lives under the service's prefix, so the gateway routes it like any other path:
`<prefix>/docs`, `<prefix>/docs/oauth2-redirect`, `<prefix>/redoc`, `<prefix>/docs/static/...`.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

_ASSETS_PACKAGE = "fastapi_standalone_docs"
_ASSETS_DIRECTORY = "static"  # holds swagger/, redoc/ and fastapi/ (the favicon)


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
        StaticFiles(packages=[(_ASSETS_PACKAGE, _ASSETS_DIRECTORY)]),
        name="docs-static",
    )

    def root_path(request: Request) -> str:
        # Non-empty only behind a proxy that strips a prefix; FastAPI's own pages honour it too.
        return request.scope.get("root_path", "").rstrip("/")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = root_path(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{static_url}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{static_url}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{root}{static_url}/fastapi/favicon.png",
            oauth2_redirect_url=root + oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = root_path(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{static_url}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{static_url}/fastapi/favicon.png",
            with_google_fonts=False,
        )

    @app.get(f"{redoc_url}/logo-mini.svg", include_in_schema=False)
    async def redoc_logo_image() -> Response:
        return Response(redoc_logo, media_type="image/svg+xml")
