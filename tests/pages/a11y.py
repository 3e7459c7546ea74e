"""What the accessibility tests check on one page: axe-core's serious and critical
violations, and whether the page is usable on a phone 360 px wide.

axe-core comes from the npm registry (``.ci/run`` installs it outside git and names its
``axe.min.js`` in CURBSIDE_TEST_AXE). Without it these tests skip, unless
CURBSIDE_TEST_AXE_REQUIRED=required (CI), where a missing axe-core fails them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# Where .ci/run installs it; a developer who ran .ci/run once has it there too.
DEFAULT_AXE = Path.home() / ".cache" / "curbside-axe" / "node_modules" / "axe-core" / "axe.min.js"
PHONE_WIDTH = 360
DESKTOP = {"width": 1280, "height": 900}
# The Accept-Language a doctor's browser sends for each language the hub offers.
BROWSER_LOCALES = {"en": "en-GB", "nl": "nl-NL", "da": "da-DK"}


def axe_source() -> str:
    path = Path(os.environ.get("CURBSIDE_TEST_AXE") or DEFAULT_AXE)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    why = (f"axe-core is not installed at {path} (npm install --prefix ~/.cache/curbside-axe "
           "axe-core@4, or set CURBSIDE_TEST_AXE to its axe.min.js)")
    if os.environ.get("CURBSIDE_TEST_AXE_REQUIRED", "").lower() == "required":
        pytest.fail(f"accessibility tests are required (CURBSIDE_TEST_AXE_REQUIRED=required) but {why}")
    pytest.skip(why)


# Runs in the page. Playwright's evaluate is not bound by the page's CSP, so the hub's
# policy (no inline script) stays as it is in production.
_RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.impact} ${v.id} (${v.help}): ` +
         v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""

# A phone's view: nothing wider than the screen, every control on screen and its text inside it.
_LAYOUT = """(width) => {
  const problems = [];
  const scrollWidth = document.scrollingElement.scrollWidth;
  if (scrollWidth > width) problems.push(`the page scrolls sideways (${scrollWidth} px wide)`);
  const controls = document.querySelectorAll(
    "input:not([type=hidden]), button, select, textarea, a.button");
  for (const el of controls) {
    const text = (el.id ? "#" + el.id : "") + " " + (el.innerText || el.name || "").trim().slice(0, 40);
    const name = `${el.tagName.toLowerCase()} ${text.trim()}`;
    const box = el.getBoundingClientRect();
    if (box.width < 1 || box.height < 1 || getComputedStyle(el).visibility === "hidden") {
      problems.push(`${name}: not visible`);
      continue;
    }
    if (box.left < -0.5 || box.right > width + 0.5)
      problems.push(`${name}: off screen (${Math.round(box.left)}..${Math.round(box.right)} px)`);
    if (el.tagName !== "SELECT" && el.scrollWidth > el.clientWidth + 1)
      problems.push(`${name}: its text overflows it`);
  }
  return problems;
}"""


class Audit:
    """Checks pages one after another and keeps every problem, so one run lists them all."""

    def __init__(self, axe: str, lang: str, supported: list[str]) -> None:
        self.axe, self.lang, self.supported = axe, lang, supported
        self.problems: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Any, what: str) -> None:
        self.pages.append(what)
        where = f"[{self.lang}] {what} ({page.url})"
        served = page.evaluate("() => document.documentElement.lang")
        # Until a language is offered (discovery's ui_locales_supported) English is served;
        # from then on the page must be in it and say so.
        want = self.lang if self.lang in self.supported else "en"
        if served.split("-")[0] != want:
            self.problems.append(f"{where}: <html lang={served!r}>, expected {want}")
        if page.evaluate("() => typeof window.axe") != "object":
            page.evaluate(self.axe)
        size = page.viewport_size
        found: set[str] = set()
        # axe at both widths: the phone layout (stacked tables, wrapped header) is other markup
        # for contrast and scrollable regions than the desktop one.
        for width in (DESKTOP["width"], PHONE_WIDTH):
            page.set_viewport_size({"width": width, "height": DESKTOP["height"]})
            for v in page.evaluate(_RUN_AXE):
                if v not in found:
                    found.add(v)
                    self.problems.append(f"{where} at {width} px: {v}")
        for p in page.evaluate(_LAYOUT, PHONE_WIDTH):
            self.problems.append(f"{where} at {PHONE_WIDTH} px: {p}")
        if size:
            page.set_viewport_size(size)

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)
