"""README.md's commands, and running one exactly as written.

A README command is one command of a ```bash block (continuation lines joined, a trailing
`# comment` dropped): what a user copies into a shell. Every one is claimed by the test that
runs it, with the `readme_command` marker:

    PREDICT = "$ENV/bin/python predict.py my-photos/ rex.jpg --output predictions/"

    @pytest.mark.readme_command(PREDICT)
    def test_predict_as_readme_shows_it(...):
        result = readme.run(PREDICT, cwd=sandbox)

- `run()` runs the command in bash as written, in a directory the test chooses (usually a
  fresh copy of the repository: `sandbox()`), with `$ENV` set to this environment. Small sizes
  may only be appended as the command's own documented flags (`extra`); argparse keeps the
  last value of a repeated flag.
- `@pytest.mark.readme_command(cmd, help_only=True)`: the test runs only the command's program
  with `--help` (`run_help()`), for commands that need what this machine lacks (a cloud
  project); `not_run="why"` claims a command no test can run here and says why.
- tests/test_readme_commands.py fails when README shows a command that no marker claims, or a
  marker claims one README does not show; conftest.py fails a claiming test that did not run
  its command (`run`/`run_help` record what ran in this session). Marker arguments are string
  literals or module-level string constants, so the check can read them without importing.
"""

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
SHELL_BLOCKS = ("bash", "sh", "shell", "console")
MARKER = "readme_command"
# What a fresh clone holds: the sandbox copies the repository without these.
NOT_COPIED = (".git", "workdir", "build", "__pycache__", ".pytest_cache", "*.pyc", "*.egg-info")

RAN: Dict[str, str] = {}  # command -> "run" or "help": what this session executed


@dataclasses.dataclass(frozen=True)
class Command:
    text: str  # as bash runs it: continuation lines joined with one space, comment dropped
    line: int  # where it starts in README.md
    section: str  # the heading it is under


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a '#' that starts a word outside quotes)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def commands(path: str = README) -> List[Command]:
    """Every command of README's shell blocks, in order."""
    result, section, block, pending, start = [], "", None, "", 0
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for number, line in enumerate(lines, start=1):
        fence = re.match(r"^```(\w*)\s*$", line.strip())
        if fence:
            block = None if block is not None else fence.group(1)
            continue
        if block is None:
            heading = re.match(r"^#+\s+(.*)", line)
            section = heading.group(1).strip() if heading else section
            continue
        if block not in SHELL_BLOCKS:
            continue
        text = _strip_comment(line).strip()
        if not text and not pending:
            continue
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1].strip() + " "
            continue
        result.append(Command((pending + text).strip(), start, section))
        pending = ""
    return result


def command_texts() -> List[str]:
    return [command.text for command in commands()]


def _check(command: str) -> None:
    if command not in command_texts():
        raise AssertionError(f"README.md shows no command {command!r}: claim and run commands "
                             "exactly as README shows them")


def environment_dir() -> str:
    """$ENV of README's commands: the environment running these tests
    (scripts/ensure_env.sh's directory)."""
    return sys.prefix


def run(command: str, *extra: str, cwd: str, env: Optional[Dict[str, str]] = None,
        then: str = "", timeout: float = 1800) -> subprocess.CompletedProcess:
    """Runs one README command in bash exactly as written, with `extra` (documented flags,
    shell-quoted) appended, in `cwd`, with $ENV set; `then`, a shell line run after it in the
    same shell, can show what it did (`printf %s "$ENV"`). Returns the finished process."""
    _check(command)
    script = command + "".join(" " + shlex.quote(arg) for arg in extra) + (
        f"\n{then}" if then else "")
    RAN[command] = "run"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "ENV": environment_dir(), **(env or {})})


def program_of(command: str) -> str:
    """The command's program and subcommands, up to its first option: `$ENV/bin/python -m
    deploy.vertex submit --template x` -> `$ENV/bin/python -m deploy.vertex submit`."""
    words = []
    tokens = command.split()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "-m" and index + 1 < len(tokens):
            words += tokens[index:index + 2]
            index += 2
            continue
        if token.startswith("-") or token in ("&&", "|", ";"):
            break
        words.append(token)
        index += 1
    return " ".join(words)


def run_help(command: str, cwd: str = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the README command's program with `--help` only (a help-only claim)."""
    _check(command)
    RAN.setdefault(command, "help")
    return subprocess.run(
        ["bash", "-c", program_of(command) + " --help"], cwd=cwd, capture_output=True,
        text=True, timeout=timeout, env={**os.environ, "ENV": environment_dir()})


def sandbox(parent: str) -> str:
    """A fresh copy of the repository under `parent` (what a clone holds: no .git, no workdir),
    for commands that write relative to it (workdir/...). Returns its path."""
    target = os.path.join(str(parent), "repo")
    shutil.copytree(REPO, target, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
    return target


def _constants(tree) -> Dict[str, object]:
    """Module-level `NAME = <literal>` assignments of a parsed file."""
    import ast

    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


def claims_in(paths: Sequence[str]) -> Dict[str, List[dict]]:
    """command -> [{"file", "line", "help_only", "not_run"}] for every `readme_command` marker
    in these Python files, read statically (what a test claims, whether or not it is
    selected in this session). Marker arguments are string literals, or names of module-level
    string constants (defined in the file, or imported `from tests.<module> import NAME`)."""
    import ast

    trees = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            trees[path] = ast.parse(handle.read(), path)
    by_module = {f"tests.{os.path.splitext(os.path.basename(path))[0]}": _constants(tree)
                 for path, tree in trees.items()}
    found: Dict[str, List[dict]] = {}
    for path, tree in trees.items():
        names = dict(by_module[f"tests.{os.path.splitext(os.path.basename(path))[0]}"])
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module in by_module:
                for alias in node.names:
                    if alias.name in by_module[node.module]:
                        names[alias.asname or alias.name] = by_module[node.module][alias.name]

        def value(expression):
            if isinstance(expression, ast.Name):
                if expression.id not in names:
                    raise ValueError(f"{path}:{expression.lineno}: readme_command argument "
                                     f"{expression.id} is not a module-level string constant")
                return names[expression.id]
            return ast.literal_eval(expression)

        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == MARKER):
                continue
            options = {keyword.arg: value(keyword.value) for keyword in node.keywords}
            for argument in node.args:
                found.setdefault(value(argument), []).append({
                    "file": os.path.relpath(path, REPO), "line": node.lineno,
                    "help_only": bool(options.get("help_only")),
                    "not_run": options.get("not_run")})
    return found
