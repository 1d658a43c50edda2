"""Driving the chat widget in a real Chromium (Debian's, through Playwright): shared by the browser tests.

    with launched_chromium() as chromium:
        tab = Tab(chromium)
        tab.open_widget("http://127.0.0.1:8000/")
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.api import LiveServer
from tests.support.environment import require

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]  # fmt: skip
TIMEOUT_MS = 90_000  # one answer from SmolLM2 on two busy cores
SHADOW = "document.querySelector('ragqa-widget').shadowRoot"


@contextmanager
def launched_chromium() -> Iterator[Any]:
    require(CHROMIUM.exists(), f"Debian's chromium at {CHROMIUM} (scripts/install.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "the playwright package (the dev extra)")
        raise
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def fold_space(text: str) -> str:
    """Runs of whitespace as one space, as the server folds a snippet (and the widget a quote)."""
    return " ".join(text.split())


def drawn(text: str) -> str:
    """``text`` as the widget shows it: whitespace folded, **bold** and `code` drawn as elements (their
    markers gone from the DOM text), a list item's "- " as a bullet."""
    text = re.sub(r"(^|\n)[ \t]*[-*+][ \t]+", "\\1• ", text)
    return fold_space(re.sub(r"\*\*|__|`", "", text))


class Tab:
    """A page in a fresh context (its own sessionStorage) that records dialogs and uncaught errors."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open_widget(self, url: str) -> None:
        self.page.goto(url)
        self.page.locator("ragqa-widget .launcher").click()
        self.page.locator("ragqa-widget .panel").wait_for(state="visible")

    def ask(self, question: str) -> None:
        self.page.locator("ragqa-widget textarea").fill(question)
        self.page.keyboard.press("Enter")

    def last_answer(self) -> Any:
        return self.page.locator("ragqa-widget .msg.bot").last

    def wait_answered(self) -> Any:
        answer = self.last_answer()
        self.page.wait_for_function(
            f"() => {{ const m = [...{SHADOW}.querySelectorAll('.msg.bot')].pop(); "
            "return m && m.dataset.status !== 'streaming'; }", timeout=TIMEOUT_MS)  # fmt: skip
        return answer

    def active_class(self) -> str:
        name: str = self.page.evaluate(f"() => {SHADOW}.activeElement?.className ?? ''")
        return name

    def evidence_ready(self) -> None:
        """Waits for the widget's evidence.js module (quotes are highlighted once it is in)."""
        self.page.locator("ragqa-widget[data-evidence=ready]").wait_for(state="attached")

    def close(self) -> None:
        self.context.close()


class AppServer(LiveServer):
    """``LiveServer`` on a port chosen beforehand: the settings name the API's own origin."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-widget", daemon=True)


class HostPages:
    """Another origin: pages that embed the widget the way a customer's site would."""

    def __init__(self, pages: dict[str, str], port: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="host-pages", daemon=True)

    def __enter__(self) -> HostPages:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
