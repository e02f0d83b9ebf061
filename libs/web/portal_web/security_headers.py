"""Security headers on every answer a service makes (issue 6 "Gateway and local stack hygiene";
ASVS 5.0 V3.4, V8.3 / OWASP Secure Headers).

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` on everything.
- Framing refused everywhere: `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`.
- `Content-Security-Policy`: on HTML pages (the API docs) scripts, styles, images, fonts and
  fetches from the service itself only, no inline script (`HTML_POLICY`; a page may set its own,
  made with `html_policy`); on everything else (JSON, assets) nothing may load at all.
- `Cache-Control: no-store` on the answer to any request that carried an `Authorization` header:
  what a token unlocks must not stay in a browser's or a proxy's cache. Answers to requests
  without one keep what the route said (e.g. the JWKS route's public caching).

Pure ASGI, outermost of the kit's middlewares, so that it also marks the answers the others make
themselves (the correlation middleware's 500).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def html_policy(*, inline_styles: tuple[str, ...] = (), workers: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy of an HTML page: scripts, styles, images, fonts and fetches
    from the service itself only, no inline script, no framing. `inline_styles` admits inline
    `<style>` elements by hash ('sha256-...'); `workers` names where workers may come from."""
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": " ".join(("'self'", *inline_styles)),
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
    if workers:
        directives["worker-src"] = " ".join(workers)
    return "; ".join(f"{name} {value}" for name, value in directives.items())


HTML_POLICY = html_policy()
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"

_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name == b"authorization" for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=message.setdefault("headers", []))
                for name, value in _ALWAYS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:  # else the page set its own
                    html = headers.get("content-type", "").startswith("text/html")
                    headers["Content-Security-Policy"] = HTML_POLICY if html else OTHER_POLICY
                if authenticated:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
