"""Every function outside tests/ and bench/ is shorter than 50 lines (from its `def` to its last
line, docstring included): long functions hide the steps they are made of. Runs in a second:
it reads the sources with ast."""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 49
SKIP = {"tests", "bench", ".git", "workdir", "build", "__pycache__"}


def lengths_in(source: str, path: str):
    """(lines, path, name) of every function and method in a Python source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.end_lineno - node.lineno + 1, path, node.name


def function_lengths():
    """(lines, path, name) of every function and method of the project's code."""
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.startswith(".")]
        for name in (name for name in files if name.endswith(".py")):
            path = os.path.join(root, name)
            with open(path, encoding="utf-8") as handle:
                yield from lengths_in(handle.read(), os.path.relpath(path, REPO))


def test_every_function_is_under_50_lines():
    long = sorted((f"{path} {name}: {lines} lines" for lines, path, name in function_lengths()
                   if lines > MAX_LINES), reverse=True)
    assert not long, "split these:\n  " + "\n  ".join(long)


def test_the_count_sees_a_long_function():
    source = "class A:\n    def long(self):\n" + "        x = 1\n" * 60 + "def short():\n    pass\n"
    assert sorted(lengths_in(source, "a.py")) == [(2, "a.py", "short"), (61, "a.py", "long")]
    # The walk reaches the project's files (a runner's main is among them): any length passes,
    # so a shorter main is never punished.
    lengths = {(path, name): lines for lines, path, name in function_lengths()}
    assert lengths[("local_runner.py", "main")] >= 2
