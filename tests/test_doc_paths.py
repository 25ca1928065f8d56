"""Every repository path a docstring or comment names exists, and every Markdown section one
names by its heading is there: a pointer that points at nothing misleads more than none.

Checked in every Python file of the repository (tests/ and bench/ too): comments (tokenize)
and docstrings (ast). A path counts when its first part is one of the repository's own
top-level files or folders (a module's old path after a move, say); other paths (TFX's
`tfx/...`, artifact layouts such as `model_run/...`, `<pipeline-root>/logs`, `workdir/...`) are
not the repository's. A bare `<NAME>.md` must be a file somewhere in the repository; a
`<NAME>.md "Heading"` (or `<NAME>.md, "Heading"`, `<NAME>.md ("Heading")`) must have a section
holding those words: a `#` heading or a paragraph's bold lead-in (`**...**`). A `../` path
points above the repository, where a fresh clone has nothing.
"""

import ast
import glob
import io
import os
import re
import subprocess
import tokenize
from typing import Iterator, List, Set, Tuple

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_THE_REPOSITORY = {"workdir", "build"}  # made by commands, never committed
_PATH = re.compile(r"(?<![\w.<>/{$-])((?:[A-Za-z_][\w.-]*/)+[\w.*-]*)")
_MARKDOWN = re.compile(r"(?<![\w/.-])([A-Z][A-Z0-9_]*\.md)\b")
_SECTION = re.compile(r"((?:[\w.-]+/)*[A-Z][A-Z0-9_]*\.md)\W{0,3}\"([^\"]+)\"")
_OUTSIDE = re.compile(r"(?<![\w.])(\.\./[\w./-]+)")  # above the repository: never in a clone
# Pointers that may point at nothing: (file, the pointer as written). None now; a pointer put
# here is skipped only while it still points at nothing.
KNOWN_ELSEWHERE: Set[Tuple[str, str]] = set()


def tracked_files() -> List[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        return [line for line in listed.stdout.splitlines()
                if os.path.exists(os.path.join(REPO, line))]
    return [os.path.relpath(path, REPO) for path in glob.glob(f"{REPO}/**/*", recursive=True)
            if os.path.isfile(path)]


FILES = tracked_files()
TOP_LEVEL = {path.split("/", 1)[0] for path in FILES} - NOT_THE_REPOSITORY
MARKDOWN_NAMES = {os.path.basename(path) for path in FILES if path.endswith(".md")}


def texts(source: str) -> Iterator[Tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python source."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                yield node.body[0].lineno, docstring


def _exists(path: str) -> bool:
    if "*" in path:
        return bool(glob.glob(os.path.join(REPO, path)))
    return os.path.exists(os.path.join(REPO, path))


def _has_heading(markdown: str, heading: str) -> bool:
    for candidate in (path for path in FILES if os.path.basename(path) == markdown):
        with open(os.path.join(REPO, candidate), encoding="utf-8") as handle:
            if any(line.startswith(("#", "**")) and heading in line for line in handle):
                return True
    return False


def broken_pointers(source: str) -> Iterator[Tuple[int, str]]:
    """(line, what) for each pointer in a Python source that points at nothing."""
    for line, text in texts(source):
        text = text.replace("\n", " ")
        for found in _PATH.findall(text):
            found = found.rstrip(".,;:)'`")
            if found.split("/", 1)[0] in TOP_LEVEL and not _exists(found):
                yield line, found
        for found in _OUTSIDE.findall(text):
            yield line, found.rstrip(".,;:)'`")
        for name in _MARKDOWN.findall(text):
            if name not in MARKDOWN_NAMES:
                yield line, name
        for markdown, heading in _SECTION.findall(text):
            name = os.path.basename(markdown)
            if name in MARKDOWN_NAMES and not _has_heading(name, heading):
                yield line, f'{markdown} "{heading}"'


PYTHON_FILES = [path for path in FILES if path.endswith(".py")]


@pytest.mark.parametrize("path", PYTHON_FILES)
def test_docstrings_and_comments_point_at_what_exists(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as handle:
        source = handle.read()
    broken = [f"{path}:{line}: {what}" for line, what in broken_pointers(source)
              if (path, what) not in KNOWN_ELSEWHERE]
    assert not broken, "pointing at nothing:\n  " + "\n  ".join(broken)


def test_the_check_finds_a_missing_path_and_a_missing_section():
    planted = ('"""See deploy/' + 'kfp.py, pipeline/run_summary.py, KNOW' + 'LEDGE.md and\n'
               'BENCHMARKS.md, "No such section"."""\n# and cli/console.py, tfx/a/b.py, '
               '../shared/x.md\n')
    assert sorted(what for _, what in broken_pointers(planted)) == sorted([
        "deploy/" + "kfp.py", "KNOW" + "LEDGE.md", 'BENCHMARKS.md "No such section"',
        "../shared/x.md"])
