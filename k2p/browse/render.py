"""Jinja2 templates (autoescaping every value) and the site's own CSS and JavaScript."""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from k2p.browse.cards import palette_css
from k2p.browse.paths import SiteWriter

ASSETS = ("site.css", "site.js", "search.js")
# No remote load of any kind; scripts, styles and images only from the site's own files.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "font-src 'self'; connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'")


class Renderer:
    def __init__(self) -> None:
        self.env = Environment(loader=PackageLoader("k2p.browse", "templates"), autoescape=True,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.globals["csp"] = CSP
        self._templates: dict[str, Any] = {}

    def page(self, name: str, **context: Any) -> str:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self.env.get_template(name)
        return template.render(**context)

    def assets(self, writer: SiteWriter) -> None:
        folder = resources.files("k2p.browse") / "assets"
        for name in ASSETS:
            data = (folder / name).read_bytes()
            if name == "site.css":
                data += palette_css().encode("ascii")
            writer.write(f"assets/{name}", data)
