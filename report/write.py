"""Writes a report directory: report.html, report.md and facts.json (the gathered facts).

The directory is the report artifact's URI, gs:// on Vertex AI: written through storage/files.py.
"""

import json
import os
from typing import Any, Dict

from report import render_html, render_markdown
from storage import files

HTML_FILE, MARKDOWN_FILE, FACTS_FILE = "report.html", "report.md", "facts.json"


def write_report(facts: Dict[str, Any], output_dir: str) -> Dict[str, str]:
    """Writes the three files into `output_dir` (created); returns their paths."""
    files.makedirs(output_dir)
    paths = {name: os.path.join(output_dir, name)
             for name in (HTML_FILE, MARKDOWN_FILE, FACTS_FILE)}
    contents = {HTML_FILE: render_html.render(facts),
                MARKDOWN_FILE: render_markdown.render(facts, HTML_FILE),
                FACTS_FILE: json.dumps(facts, indent=1, sort_keys=True)}
    for name, text in contents.items():
        files.write_text(paths[name], text)
    return paths
