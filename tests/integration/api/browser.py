"""Driving the chat widget in a real Chromium (Debian's, through Playwright): shared by the browser tests.

    with launched_chromium() as chromium:
        tab = Tab(chromium)
        tab.open_widget("http://127.0.0.1:8000/")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
