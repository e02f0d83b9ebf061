"""The texts people get (SPEC X-2), from `templates.toml`: data that a non-programmer may edit.

`Templates.load()` reads and checks them once (every kind has a title, a plain-text body and an
HTML body; every placeholder is a name). Rendering fills `$placeholders` from the event's values:
as they are in plain text, HTML-escaped in HTML, so nothing a user typed (a reason, a note) can
inject markup into an e-mail. A placeholder the values lack is a bug and raises `KeyError`.
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

PART_PREFIX = "part_"


@dataclass(frozen=True)
class KindTemplate:
    title: Template
    text: Template
    html: Template
    link: Template | None
    security: bool


@dataclass(frozen=True)
class Rendered:
    """A notification as the portal shows it: plain-text title and body, and its link."""

    title: str
    body: str
    link: str | None


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.kinds = {name: _kind(name, spec) for name, spec in data["kinds"].items()}
        self.parts = {
            name: (Template(spec["text"]), Template(spec["html"]))
            for name, spec in data.get("parts", {}).items()
        }
        self.labels: dict[str, dict[str, str]] = data.get("labels", {})
        layout = data["layout"]
        self._layout_text = Template(layout["text"])
        self._layout_html = Template(layout["html"])
        self._greeting_named = Template(layout["greeting_named"])
        self._greeting_anonymous = layout["greeting_anonymous"]
        self._link_line = Template(layout["link_line"])
        self._link_html = Template(layout["link_html"])
        for template in [self._layout_text, self._layout_html, *self._every_kind_template()]:
            if not template.is_valid():
                raise ValueError(f"invalid placeholder in template: {template.template!r}")

    @classmethod
    def load(cls, path: Path | None = None) -> Templates:
        """The packaged templates, or those of `path`."""
        if path is None:
            raw = resources.files("notifications_service").joinpath("templates.toml").read_text()
        else:
            raw = path.read_text(encoding="utf-8")
        return cls(tomllib.loads(raw))

    def _every_kind_template(self) -> list[Template]:
        found: list[Template] = []
        for kind in self.kinds.values():
            found += [kind.title, kind.text, kind.html] + ([kind.link] if kind.link else [])
        for text, markup in self.parts.values():
            found += [text, markup]
        return found

    def is_security(self, kind: str) -> bool:
        return self.kinds[kind].security

    def label(self, group: str, code: str) -> str:
        """The Greek label of `code` in `group` (e.g. a status), or the code itself if none."""
        return self.labels.get(group, {}).get(code, code)

    # --- rendering -----------------------------------------------------------------------------

    def render(self, kind: str, params: Mapping[str, str]) -> Rendered:
        """Title, plain-text body and link of a notification of `kind`."""
        template = self.kinds[kind]
        values = self._with_parts(params, escape=False)
        link = template.link.substitute(values) if template.link else None
        return Rendered(template.title.substitute(values), template.text.substitute(values), link)

    def render_email(
        self,
        kind: str,
        params: Mapping[str, str],
        *,
        recipient_name: str | None,
        municipality_name: str,
        public_url: str,
    ) -> EmailContent:
        """The e-mail of a notification: subject, plain-text part and HTML part (escaped)."""
        template = self.kinds[kind]
        rendered = self.render(kind, params)
        url = public_url.rstrip("/") + rendered.link if rendered.link else None
        greeting = (
            self._greeting_named.substitute(name=recipient_name)
            if recipient_name
            else self._greeting_anonymous
        )
        text = self._layout_text.substitute(
            greeting=greeting,
            body=rendered.body,
            link_line=self._link_line.substitute(url=url) if url else "",
            municipality_name=municipality_name,
        )
        escaped = self._with_parts(params, escape=True)
        markup = self._layout_html.substitute(
            title=html.escape(rendered.title),
            greeting=html.escape(greeting),
            body=template.html.substitute(escaped),
            link_line=self._link_html.substitute(url=html.escape(url)) if url else "",
            municipality_name=html.escape(municipality_name),
        )
        return EmailContent(subject=rendered.title, text=_tidy(text), html=markup)

    def _with_parts(self, params: Mapping[str, str], *, escape: bool) -> dict[str, str]:
        values = {k: html.escape(v) if escape else v for k, v in params.items()}
        for name, (text, markup) in self.parts.items():
            given = params.get(name)
            chosen = markup if escape else text
            values[PART_PREFIX + name] = chosen.substitute(values) if given else ""
        return values


def _kind(name: str, spec: Mapping[str, Any]) -> KindTemplate:
    missing = {"title", "text", "html"} - set(spec)
    if missing:
        raise ValueError(f"template {name!r} lacks {sorted(missing)}")
    link = spec.get("link")
    return KindTemplate(
        title=Template(spec["title"]),
        text=Template(spec["text"]),
        html=Template(spec["html"]),
        link=Template(link) if link else None,
        security=bool(spec.get("security", False)),
    )


def _tidy(text: str) -> str:
    """No run of blank lines where an optional line was left out."""
    lines = text.splitlines()
    tidy: list[str] = []
    for line in lines:
        if line.strip() or (tidy and tidy[-1].strip()):
            tidy.append(line.rstrip())
    return "\n".join(tidy).strip() + "\n"
