"""Rendering the pharmacy's printed documents to PDF with WeasyPrint, the way the Rx vial
label does it (``orders.services.labels``): the fonts bundled in ``static/fonts`` and
nothing else fetched, one font configuration and parsed stylesheet per thread and
stylesheet, and no clock time or random identifier in the file, so the same HTML gives
the same bytes on every host.

Shared by the documents of later apps (shipping labels, packing slips, manifests), which
may import orders but not each other.
"""

import atexit
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.conf import settings

FONT_DIR = (settings.BASE_DIR / "static" / "fonts").resolve()


def bundled_fonts_only(document: str):
    """A WeasyPrint URL fetcher that fetches the bundled fonts and nothing else: no
    network, no other file, so rendering never waits on anything outside the process.
    Any other fetch stops the rendering (``fail_on_errors``) rather than printing a
    document with something missing. ``document`` names it in the error."""
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 (see thread_renderer)

    class BundledFontsOnly(URLFetcher):
        def fetch(self, url, headers=None):
            parts = urlsplit(url)
            path = Path(url2pathname(parts.path)).resolve() if parts.scheme == "file" else None
            if path is None or path.parent != FONT_DIR:
                raise ValueError(f"the {document} fetches nothing but its fonts, not {url}")
            return super().fetch(url, headers)

    return BundledFontsOnly(fail_on_errors=True)


def _html_without_user_agent_stylesheet() -> type:
    """``weasyprint.HTML`` that cascades only the document's own stylesheet, not
    WeasyPrint's HTML user-agent sheet (rules for forms, lists, tables and footnotes,
    matched against every element of every label for nothing). The stylesheet
    must then give its elements their ``display`` itself. Should a WeasyPrint upgrade
    rename this hook, documents render as before, only slower."""
    from weasyprint import HTML  # noqa: PLC0415 (see thread_renderer)

    class OwnStylesheetOnly(HTML):
        def _ua_stylesheets(self, forms=False):
            return []

    return OwnStylesheetOnly


@dataclass
class PdfRenderer:
    """A stylesheet parsed once, with its fonts loaded, for one thread."""

    font_config: object  # weasyprint.text.fonts.FontConfiguration
    stylesheet: object  # weasyprint.CSS
    url_fetcher: object  # weasyprint.urls.URLFetcher
    html_class: type  # weasyprint.HTML, or the same without the user-agent stylesheet

    def render(self, html: str):
        """The HTML laid out with the stylesheet: a ``weasyprint.Document`` (its
        ``pages``; ``write_pdf()`` for the bytes)."""
        return self.html_class(string=html, url_fetcher=self.url_fetcher).render(
            stylesheets=[self.stylesheet], font_config=self.font_config
        )


def font_subsetter() -> str:
    """What WeasyPrint subsets the embedded fonts with: "HarfBuzz" when
    libharfbuzz-subset (4.1 or newer) is loaded, else the slower "fontTools" (the
    benchmarks print which one they measured)."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset  # noqa: PLC0415

    if harfbuzz_subset and harfbuzz.hb_version_atleast(4, 1, 0):
        return "HarfBuzz"
    return "fontTools"


_renderers = threading.local()
# Free the main thread's renderers before the interpreter tears modules down: a font
# configuration deletes its temporary font folder when freed, and needs them for that.
atexit.register(lambda: vars(_renderers).clear())


def thread_renderer(
    stylesheet: Path, *, document: str, user_agent_stylesheet: bool = True
) -> PdfRenderer:
    """This thread's renderer of ``stylesheet`` (a CSS file under ``static/css`` whose
    ``@font-face`` rules name the bundled fonts), made on first use: font loading and CSS
    parsing then cost nothing per document (Pango objects are not shared between threads).
    Without ``user_agent_stylesheet`` only ``stylesheet`` is cascaded (for small documents
    of a few kinds of element, rendered by the thousand: see
    ``_html_without_user_agent_stylesheet``).

    WeasyPrint is imported here, not at the top: its import loads Pango and fontconfig,
    which only a process that renders should pay for."""
    cache = vars(_renderers)
    renderer = cache.get((stylesheet, user_agent_stylesheet))
    if renderer is None:
        from weasyprint import CSS, HTML  # noqa: PLC0415
        from weasyprint.text.fonts import FontConfiguration  # noqa: PLC0415

        url_fetcher = bundled_fonts_only(document)
        font_config = FontConfiguration()
        parsed = CSS(
            string=stylesheet.read_text(encoding="utf-8"),
            base_url=stylesheet.as_uri(),
            url_fetcher=url_fetcher,
            font_config=font_config,
        )
        html_class = HTML if user_agent_stylesheet else _html_without_user_agent_stylesheet()
        renderer = PdfRenderer(font_config, parsed, url_fetcher, html_class)
        cache[(stylesheet, user_agent_stylesheet)] = renderer
    return renderer
