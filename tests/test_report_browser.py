"""The report's HTML in headless Chromium, rendered from the recorded evaluation
(tests/data/report/facts.json): it loads with no errors, every image decodes, the screenshot
is not blank; and the probe does catch a broken image (so a pass means something).

Needs Debian's `chromium`: scripts/test.sh installs it when missing (scripts/ensure_chromium.sh);
without it these tests fail and say so.
"""

import json
import os

import pytest

from tests import chromium

DATA = os.path.join(os.path.dirname(__file__), "data", "report")


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    from report import render_html

    with open(os.path.join(DATA, "facts.json"), encoding="utf-8") as handle:
        facts = json.load(handle)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html.render(facts), encoding="utf-8")
    return str(path), facts


def test_page_loads_with_every_image_rendered(page_path, tmp_path):
    path, facts = page_path
    probe = chromium.inspect_page(path, str(tmp_path))
    assert probe["errors"] == []
    shown = len(facts["samples"]["best"]) + len(facts["samples"]["worst"])
    assert len(probe["images"]) == 4 * shown > 0
    for image in probe["images"]:
        assert image["complete"] and image["naturalWidth"] > 0, image
    assert probe["svgs"] >= 4
    assert probe["title"].startswith("Evaluation report")


def test_screenshot_is_not_blank(page_path, tmp_path):
    path, _ = page_path
    shot = chromium.screenshot(path, str(tmp_path / "report.png"), str(tmp_path))
    chromium.assert_not_blank(shot)


def test_probe_catches_a_broken_image(page_path, tmp_path):
    path, _ = page_path
    broken = tmp_path / "broken.html"
    page = open(path, encoding="utf-8").read()
    start = page.index('<img src="') + len('<img src="')
    end = page.index('"', start)
    broken.write_text(page[:start] + "data:image/png;base64,iVBORw0KGgoAAAA=" + page[end:],
                      encoding="utf-8")
    probe = chromium.inspect_page(str(broken), str(tmp_path))
    assert probe["errors"], "a broken image should raise an error event"
    assert probe["images"][0]["naturalWidth"] == 0
