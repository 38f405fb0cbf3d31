"""`leasesim report` in a real browser: headless Chromium loads the page with no console error,
every image decodes, and a screenshot of the top of the page is saved as reports/report.png.

No Python dependency beyond the project's: Chromium is run twice as a command, once with
`--dump-dom` on a copy of the page with a small checking script in its head (errors, console
errors and each image's decoded size are written into the DOM it prints), once on the page as
written, with `--enable-logging=stderr` (console messages) and `--screenshot`.

Without Chromium the test skips, unless the CI environment variable is set: `.ci/run` installs
Chromium from the system packages, so in CI a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 2400)

# Runs before anything else in the page: records errors (uncaught, resources that fail to load,
# console.error) and, once the page has loaded, each image's decoded size, into <pre id=__check>.
CHECK_SCRIPT = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var what = e.target && (e.target.src || e.target.href);
  window.__errors.push(e.message || ("failed to load " + what));
}, true);
var __consoleError = console.error;
console.error = function () {
  window.__errors.push("console.error: " + Array.from(arguments).join(" "));
  __consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var images = Array.from(document.images).map(function (i) {
    return {alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight};
  });
  var out = document.createElement("pre");
  out.id = "__check";
  out.textContent = JSON.stringify({errors: window.__errors, images: images});
  document.body.appendChild(out);
});
</script>"""


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _browser()
    if found is None:
        if _in_ci():
            pytest.fail("CI is set but no Chromium was found (chromium or chromium-browser on "
                        "PATH); .ci/run installs it with apt-get install chromium")  # fmt: skip
        pytest.skip("no Chromium on PATH (chromium or chromium-browser): install it (Debian: "
                    "apt-get install chromium) or run .ci/run; with CI=true this fails instead")
    return found


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


class _Links(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a small run of the documented defaults: 3 replications of 2 hours."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "report", str(ROOT / "scenarios/aws-defaults.yaml"),
         "-n", "3", "--set", "duration=2h", "--out", str(out), "-q"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(text)
    outside = [link for link in parser.links if not link.startswith(("data:", "#"))]
    assert outside == [], f"the report links outside itself: {outside[:5]}"
    assert "<script" not in text.lower()
    assert not re.search(r"url\((?!data:)", text), "CSS loads something from outside"
    for section in ("health", "warnings", "summary", "estimates", "calls", "replications",
                    "figures", "scenario"):  # fmt: skip
        assert f'id="{section}"' in text


def test_report_renders_in_chromium(chromium: str, report: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    # 1. A copy with the checking script first in its head: errors and decoded images.
    checked = tmp_path / "checked.html"
    text = report.read_text(encoding="utf-8")
    checked.write_text(text.replace("<head>", "<head>" + CHECK_SCRIPT, 1), encoding="utf-8")
    done = _chromium(chromium, tmp_path / "profile-dom", "--virtual-time-budget=10000",
                     "--dump-dom", checked.as_uri())  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="__check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the page did not finish loading: {done.stdout[-500:]!r}"
    found = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert found["errors"] == []
    images = found["images"]
    assert len(images) == text.count("<img "), images
    assert len(images) >= 2  # timeline and latency at least
    for image in images:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image

    # 2. The page as written: no console message at all (it has no script), and a screenshot.
    REPORTS.mkdir(exist_ok=True)
    shutil.copyfile(report, REPORTS / "report.html")
    shot = REPORTS / "report.png"
    shot.unlink(missing_ok=True)
    done = _chromium(chromium, tmp_path / "profile-shot", "--enable-logging=stderr", "--v=0",
                     f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={shot}",
                     "--virtual-time-budget=10000", report.as_uri())  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    elapsed = time.perf_counter() - started
    print(f"\nbrowser checks took {elapsed:.1f} s; screenshot: {shot}")

    # The screenshot: the expected size, and not blank (a page of text and tables varies a lot).
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    gray = np.asarray(pixels[..., :3], dtype=float).mean(axis=2)
    assert gray.std() > 0.05, f"the screenshot looks blank (std {gray.std():.4f})"
    assert (gray < 0.3).mean() > 0.002, "hardly any dark pixels: no text was drawn"
