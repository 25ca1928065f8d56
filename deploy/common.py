"""What the Vertex and Kubeflow commands share: their submit and schedule subcommands, the
default run name, checking a cron expression, a template file, and `--parameter NAME=VALUE`
flags. No credentials anywhere: the clients use Application Default Credentials (Vertex) or the
cluster's own authentication (Kubeflow)."""

import argparse
import json
import os
import re
from typing import Dict, List, Optional, Tuple

from pipeline.config import PipelineConfig

# A run's (and schedule's) name in the orchestrator's UI: the pipeline's own name.
DEFAULT_RUN_NAME = PipelineConfig.__dataclass_fields__["pipeline_name"].default



def subcommands(parser: argparse.ArgumentParser, submit: str, schedule: str
                ) -> List[Tuple[str, argparse.ArgumentParser]]:
    """The `submit` and `schedule` subcommands, each described by its text, with the flag
    every one takes (--parameter); (name, subparser) of each."""
    commands = parser.add_subparsers(dest="command", required=True)
    made = []
    for name, text in (("submit", submit), ("schedule", schedule)):
        command = commands.add_parser(name, help=text, description=text,
                                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        command.add_argument("--parameter", action="append", metavar="NAME=VALUE",
                             help="a pipeline runtime parameter, repeatable")
        made.append((name, command))
    return made


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")
_TIME_ZONE = re.compile(r"^(CRON_TZ|TZ)=[A-Za-z_+\-/0-9]+$")


def check_cron(cron: str, fields: int) -> str:
    """`cron` if it has `fields` fields (Vertex: 5, minute first, optionally after
    'TZ=Area/City'; Kubeflow: 6, seconds first), else ValueError saying what is expected."""
    parts = cron.split()
    if parts and _TIME_ZONE.match(parts[0]):
        parts = parts[1:]
    if len(parts) != fields or not all(_CRON_FIELD.match(part) for part in parts):
        example = "'0 3 * * 1' (03:00 every Monday)" if fields == 5 else \
            "'0 0 3 * * 1' (seconds first: 03:00:00 every Monday)"
        raise ValueError(f"cron must have {fields} fields, e.g. {example}; got {cron!r}")
    return cron


def check_template(path: str, suffixes=(".json", ".yaml", ".yml")) -> str:
    """The compiled pipeline file: it must exist and be what kubeflow_v2_runner.py writes."""
    if not os.path.isfile(path):
        raise ValueError(f"pipeline template {path} not found: compile it first with "
                         f"`python kubeflow_v2_runner.py ... --output {path}`")
    if not path.endswith(suffixes):
        raise ValueError(f"pipeline template must be one of {suffixes}, got {path}")
    if path.endswith(".json"):
        with open(path) as handle:
            job = json.load(handle)
        if "pipelineSpec" not in job:
            raise ValueError(f"{path} is not a KFP v2 PipelineJob (no 'pipelineSpec'): compile "
                             "it with kubeflow_v2_runner.py")
    return path


def parse_parameters(values: Optional[List[str]]) -> Dict[str, str]:
    """['name=value', ...] -> {name: value}; refuses anything that looks like a credential,
    since parameters are stored with every run."""
    result: Dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--parameter must be NAME=VALUE, got {item!r}")
        if any(word in name.lower() for word in ("token", "password", "secret", "key",
                                                  "credential")):
            raise ValueError(f"--parameter {name}: credentials must not be pipeline parameters "
                             "(they are stored with every run); use Application Default "
                             "Credentials or the job's service account")
        result[name] = value
    return result
