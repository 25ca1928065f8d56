"""The pipeline image as a directory: the Dockerfile's WORKDIR, COPY and ENV applied to a folder.

No Docker engine runs here, so the emulator builds what a step would see of the image's own
files: a directory standing for the container's `/`, into which every `COPY` of the build
context is made (honouring the ignore file as BuildKit does: `<Dockerfile>.dockerignore` beside
the Dockerfile, else `.dockerignore` at the context root), with the `WORKDIR` a step starts in
and the `ENV` it gets. A file the image lacks is missing in the step.

What is not applied, and stands in instead:
- `FROM`: the base image's own files are not there; its Python and packages are an environment
  of the image's Python (3.10) built from the same requirements.lock and checked against it
  (environment.py).
- other `RUN` lines are build steps: listed, and run in the layout only when asked
  (`python -m deploy.emulate --run-build-steps`).
- `COPY --from=<image>` copies from another image: not available, listed.
- `ENTRYPOINT`/`CMD`: Vertex AI and KFP give every step its own command, which replaces them.
"""

import dataclasses
import fnmatch
import json
import os
import posixpath
import re
import shlex
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

LOCK_FILE = "requirements.lock"


class DockerfileError(ValueError):
    """The Dockerfile (or its ignore file) cannot be applied; the message names the line."""


@dataclasses.dataclass
class Instruction:
    line: int  # 1-based line of the instruction in the Dockerfile
    op: str
    args: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.op} {self.args}"


def parse(text: str) -> List[Instruction]:
    """Instructions of a Dockerfile, continuation lines joined and comments dropped."""
    instructions, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped, as Docker does
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        op, _, args = full.partition(" ")
        instructions.append(Instruction(start, op.upper(), args.strip()))
    if pending:
        raise DockerfileError(f"line {start}: the instruction never ends (trailing backslash)")
    return instructions


def _words(args: str) -> List[str]:
    """COPY/ENTRYPOINT arguments: the JSON array form or shell words."""
    if args.startswith("["):
        try:
            return [str(word) for word in json.loads(args)]
        except json.JSONDecodeError:
            pass
    return shlex.split(args)


def _expand(value: str, env: Dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                  lambda match: env.get(match.group(1) or match.group(2), ""), value)


def _env_pairs(args: str, env: Dict[str, str]) -> List[Tuple[str, str]]:
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy form: ENV KEY the rest of the line
        key, _, value = args.partition(" ")
        return [(key, _expand(value.strip(), env))]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise DockerfileError(f"ENV {args}: {word!r} is not KEY=VALUE")
        pairs.append((key, _expand(value, env)))
    return pairs


class IgnoreRules:
    """A .dockerignore: Go filepath.Match patterns with `**`, `!` exceptions, last match wins;
    a pattern matching a directory excludes everything under it."""

    def __init__(self, lines: Sequence[str], source: str = ""):
        self.source = source
        self.rules: List[Tuple[bool, re.Pattern]] = []
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = posixpath.normpath(line[1:] if negate else line).lstrip("/")
            self.rules.append((negate, re.compile(self._regex(pattern))))

    @staticmethod
    def _regex(pattern: str) -> str:
        parts = []
        for index, piece in enumerate(pattern.split("/")):
            if piece == "**":
                parts.append("(?:.*/)?" if index < len(pattern.split("/")) - 1 else ".*")
                continue
            regex = fnmatch.translate(piece)[4:-3]  # strip (?s: ... )\Z
            parts.append(regex.replace(".*", "[^/]*") + "/")
        regex = "".join(parts)
        regex = regex[:-1] if regex.endswith("/") else regex
        return f"^{regex}(?:/.*)?$"

    @property
    def has_exceptions(self) -> bool:
        return any(negate for negate, _ in self.rules)

    def excluded(self, relative: str) -> bool:
        relative = relative.replace(os.sep, "/")
        verdict = False
        for negate, regex in self.rules:
            if regex.match(relative):
                verdict = not negate
        return verdict


def ignore_rules(dockerfile: str, context: str) -> IgnoreRules:
    """BuildKit's choice: `<Dockerfile>.dockerignore` beside the Dockerfile, else the context's
    `.dockerignore`, else nothing ignored."""
    for path in (dockerfile + ".dockerignore", os.path.join(context, ".dockerignore")):
        if os.path.isfile(path):
            with open(path) as handle:
                return IgnoreRules(handle.read().splitlines(), path)
    return IgnoreRules([], "")


@dataclasses.dataclass
class ImageLayout:
    """A directory standing for the image's filesystem, as far as the Dockerfile makes it."""

    root: str  # stands for the container's "/"
    dockerfile: str
    context: str
    base_image: str = ""
    workdir: str = "/"  # container path a step starts in
    env: Dict[str, str] = dataclasses.field(default_factory=dict)  # container values
    owned: List[str] = dataclasses.field(default_factory=list)  # container dirs the layout has
    build_steps: List[Instruction] = dataclasses.field(default_factory=list)  # RUN, not the lock
    lock_install: Optional[Instruction] = None
    not_applied: List[str] = dataclasses.field(default_factory=list)
    ignore_file: str = ""

    def host_path(self, container_path: str) -> str:
        """Where a container path lives here: under `root` if the image's own files hold it
        (WORKDIR and COPY destinations), else the host's same path (e.g. /tmp)."""
        normal = posixpath.normpath(container_path)
        for owned in self.owned:
            if normal == owned or normal.startswith(owned.rstrip("/") + "/"):
                return os.path.join(self.root, normal.lstrip("/"))
        return container_path

    def map_value(self, value: str) -> str:
        """A string whose path(s) point into the image, with those mapped (colon lists too)."""
        if not isinstance(value, str) or not value.startswith("/"):
            return value
        return ":".join(self.host_path(part) if part.startswith("/") else part
                        for part in value.split(":"))

    def host_env(self) -> Dict[str, str]:
        return {key: self.map_value(value) for key, value in self.env.items()}

    def host_workdir(self) -> str:
        return self.host_path(self.workdir)

    def describe(self) -> List[str]:
        lines = [f"image: {self.dockerfile} (context {self.context}"
                 f"{', ignore file ' + self.ignore_file if self.ignore_file else ''}) laid out "
                 f"in {self.root}; WORKDIR {self.workdir}; ENV "
                 + (" ".join(f"{k}={v}" for k, v in self.env.items()) or "none")]
        lines.extend(f"image: not applied: {note}" for note in self.not_applied)
        return lines


def build_layout(dockerfile: str, context: str, root: str) -> ImageLayout:
    """Applies the Dockerfile's WORKDIR, COPY and ENV to `root` (created; must be empty)."""
    dockerfile, context = os.path.abspath(dockerfile), os.path.abspath(context)
    if not os.path.isfile(dockerfile):
        raise DockerfileError(f"no Dockerfile at {dockerfile}")
    if not os.path.isdir(context):
        raise DockerfileError(f"build context {context} is not a directory")
    with open(dockerfile) as handle:
        instructions = parse(handle.read())
    rules = ignore_rules(dockerfile, context)
    os.makedirs(root, exist_ok=True)
    layout = ImageLayout(root=os.path.abspath(root), dockerfile=dockerfile, context=context,
                         ignore_file=rules.source)
    args: Dict[str, str] = {}
    stages = [item for item in instructions if item.op == "FROM"]
    if len(stages) != 1:
        raise DockerfileError(f"{dockerfile}: {len(stages)} FROM lines; the emulator lays out "
                              "single-stage images")
    for item in instructions:
        if item.op == "FROM":
            layout.base_image = item.args
        elif item.op == "ARG":
            name, _, default = item.args.partition("=")
            args[name.strip()] = default.strip()
        elif item.op == "WORKDIR":
            path = _expand(item.args, {**args, **layout.env})
            layout.workdir = posixpath.normpath(posixpath.join(layout.workdir, path))
            _own(layout, layout.workdir)
            os.makedirs(layout.host_path(layout.workdir), exist_ok=True)
        elif item.op == "ENV":
            for key, value in _env_pairs(item.args, {**args, **layout.env}):
                layout.env[key] = value
        elif item.op in ("COPY", "ADD"):
            _copy(layout, item, rules, {**args, **layout.env})
        elif item.op == "RUN":
            if LOCK_FILE in item.args and "install" in item.args:
                layout.lock_install = item
            else:
                layout.build_steps.append(item)
        elif item.op in ("ENTRYPOINT", "CMD"):
            layout.not_applied.append(f"{item} (every step's own command replaces it)")
        elif item.op in ("LABEL", "EXPOSE", "MAINTAINER", "STOPSIGNAL", "HEALTHCHECK",
                         "SHELL", "VOLUME", "USER", "ONBUILD"):
            layout.not_applied.append(str(item))
        else:
            raise DockerfileError(f"{dockerfile} {item}: unknown instruction")
    return layout


def _own(layout: ImageLayout, container_dir: str) -> None:
    if container_dir not in layout.owned and container_dir != "/":
        layout.owned.append(container_dir)


def _copy(layout: ImageLayout, item: Instruction, rules: IgnoreRules,
          env: Dict[str, str]) -> None:
    words = [word for word in _words(item.args)]
    flags = [word for word in words if word.startswith("--")]
    words = [_expand(word, env) for word in words if not word.startswith("--")]
    if any(flag.startswith("--from") for flag in flags):
        layout.not_applied.append(f"{item} (from another image)")
        return
    if item.op == "ADD" and any(re.match(r"^\w+://", word) for word in words[:-1]):
        raise DockerfileError(f"{layout.dockerfile} {item}: ADD of a URL is not emulated")
    if len(words) < 2:
        raise DockerfileError(f"{layout.dockerfile} {item}: COPY needs a source and a "
                              "destination")
    *sources, dest = words
    dest = posixpath.normpath(posixpath.join(layout.workdir, dest)) + (
        "/" if dest.endswith("/") else "")
    matched = []
    for source in sources:
        pattern = posixpath.normpath(source).lstrip("/")
        found = [pattern] if pattern == "." else sorted(
            relative for relative in _context_files(layout.context, rules, with_dirs=True)
            if fnmatch.fnmatchcase(relative, pattern))
        if not found:
            raise DockerfileError(f"{layout.dockerfile} {item}: {source!r} is not in the build "
                                  f"context {layout.context} (or its ignore file leaves it out)")
        matched.extend(found)
    into_dir = dest.endswith("/") or len(matched) > 1 or \
        any(os.path.isdir(os.path.join(layout.context, match)) for match in matched)
    target_dir = dest.rstrip("/") or "/"
    _own(layout, target_dir if into_dir else posixpath.dirname(target_dir))
    for match in matched:
        source_path = os.path.normpath(os.path.join(layout.context, match))
        if os.path.isdir(source_path):
            # A directory's contents go into the destination (its own name does not).
            prefix = "" if match == "." else match.rstrip("/") + "/"
            for relative in _context_files(layout.context, rules):
                if prefix and not relative.startswith(prefix):
                    continue
                inside = relative[len(prefix):]
                _copy_file(os.path.join(layout.context, relative),
                           layout.host_path(posixpath.join(target_dir, inside)))
        else:
            destination = posixpath.join(target_dir, os.path.basename(match)) if into_dir \
                else target_dir
            _copy_file(source_path, layout.host_path(destination))


def _context_files(context: str, rules: IgnoreRules, with_dirs: bool = False) -> List[str]:
    """Every file (and with `with_dirs`, directory) of the context the ignore file leaves in,
    as context-relative POSIX paths. `.dockerignore` and the Dockerfile are sent as well."""
    found = []
    for directory, dirs, files in os.walk(context):
        relative_dir = os.path.relpath(directory, context)
        relative_dir = "" if relative_dir == "." else relative_dir.replace(os.sep, "/") + "/"
        # An excluded directory is skipped unless an exception (!pattern) may reach inside it.
        dirs[:] = sorted(d for d in dirs if rules.has_exceptions or
                         not rules.excluded(relative_dir + d))
        if with_dirs:
            found.extend(relative_dir + d for d in dirs if not rules.excluded(relative_dir + d))
        found.extend(relative_dir + name for name in sorted(files)
                     if not rules.excluded(relative_dir + name))
    return found


def _copy_file(source: str, destination: str) -> None:
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copy2(source, destination)

