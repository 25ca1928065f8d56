"""Opens a report in headless Chromium (Debian's `chromium`) for the browser tests.

`inspect_page` loads a copy of the page with a small probe script added at the top of <head>:
it records every error event (script errors, and resources that fail to load, in the capture
phase) and, once the page has loaded, each <img>'s `complete` and `naturalWidth`, into a
<pre id="probe"> element that `--dump-dom` prints. The report itself has no script; the probe
exists only in the test's copy. `screenshot` renders the original page to a PNG.
"""

import json
import os
import re
import shutil
import subprocess
from typing import Any, Dict

import pytest

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (event) {
  var target = event.target || {};
  window.__errors.push(event.message || ('failed to load ' + (target.src || target.href || target.tagName)));
}, true);
window.addEventListener('load', function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth,
            naturalHeight: img.naturalHeight};
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({errors: window.__errors, images: images,
                                    svgs: document.querySelectorAll('svg').length,
                                    title: document.title});
  document.body.appendChild(pre);
});
</script>"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", "--disable-extensions"]


def chromium() -> str:
    """The chromium executable, or a test failure saying how to get it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Debian's chromium is not installed: scripts/test.sh installs it when run "
                    "as root (scripts/ensure_chromium.sh, `apt-get install -y chromium`); "
                    "otherwise install it yourself. The report's browser test needs it.")
    return path


def _run(args, tmp_dir: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=tmp_dir)  # a profile of its own, nothing shared
    return subprocess.run([chromium()] + FLAGS + [f"--user-data-dir={tmp_dir}/profile"] + args,
                          capture_output=True, text=True, timeout=120, env=env)


def inspect_page(html_path: str, tmp_dir: str) -> Dict[str, Any]:
    """{"errors": [...], "images": [{alt, complete, naturalWidth, ...}], "svgs": n}."""
    with open(html_path, encoding="utf-8") as handle:
        page = handle.read()
    probed = os.path.join(tmp_dir, "probed.html")
    with open(probed, "w", encoding="utf-8") as handle:
        handle.write(page.replace("<head>", "<head>" + PROBE, 1))
    result = _run(["--virtual-time-budget=5000", "--dump-dom", f"file://{probed}"], tmp_dir)
    match = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert match, f"the page did not finish loading in chromium:\n{result.stderr[-2000:]}"
    import html

    return json.loads(html.unescape(match.group(1)))


def screenshot(html_path: str, png_path: str, tmp_dir: str, width: int = 1200,
               height: int = 2400) -> str:
    result = _run([f"--window-size={width},{height}", f"--screenshot={png_path}",
                   f"file://{os.path.abspath(html_path)}"], tmp_dir)
    assert os.path.isfile(png_path), f"chromium wrote no screenshot:\n{result.stderr[-2000:]}"
    return png_path


def assert_not_blank(png_path: str) -> None:
    """The screenshot shows something: many colours, and not one flat colour."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(png_path).convert("RGB"))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 10, "the screenshot is (nearly) one flat colour"
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"the screenshot has only {len(colours)} colours"
