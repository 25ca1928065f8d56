"""The local metadata store (`<pipeline_root>/metadata.sqlite`), checked before a run uses it,
and what killed runs left in it.

TFX opens the store only when the first component starts, and a damaged one then fails every
run the same way (`database disk image is malformed`, or `AlreadyExistsError: file already
exists` for an empty file), while a missing one silently starts an empty history: every
component runs again and the next model is pushed with no baseline. `check()` reads the file
first (its SQLite header, `PRAGMA quick_check`, ML Metadata's own table) and says what is wrong,
what the store holds and what to do; `--new-metadata-store` is the user saying "start afresh".

A run that was killed leaves its executions RUNNING for ever and its partial outputs on disk.
The caller holds the pipeline root's lock (storage/lock_file.py), so no other run is alive:
`close_abandoned()` marks such executions CANCELED, with a property saying why, and removes the
directories only they wrote (their output and `.system/executor_execution` directories, with
any `beam-temp-*` and `.temp` in them), keeping every directory a recorded artifact lives in.
"""

import os
import shutil
import sqlite3
import time
from typing import List, Optional

SQLITE_HEADER = b"SQLite format 3\x00"
MLMD_TABLE = "MLMDEnv"  # ML Metadata's schema version table
ABANDONED_KEY = "petseg_abandoned"  # on an execution closed by close_abandoned()
# MLMD's Execution.State values (metadata_store.proto), read here without importing it.
NEW, RUNNING, CANCELED = 1, 2, 6
OUTPUT_EVENT = 4  # Event.Type.OUTPUT


class StoreError(ValueError):
    """The store cannot be used; the message says why and what to do."""


def earlier_outputs(pipeline_root: str) -> List[str]:
    """Component output directories under the pipeline root (what earlier runs wrote)."""
    if not os.path.isdir(pipeline_root):
        return []
    return sorted(name for name in os.listdir(pipeline_root)
                  if os.path.isdir(os.path.join(pipeline_root, name))
                  and os.path.isdir(os.path.join(pipeline_root, name, ".system")))


def damage(path: str) -> Optional[str]:
    """What is wrong with the store file at `path`, in words, or None when it reads as an ML
    Metadata store. A missing file is not damage (see `check`)."""
    size = os.path.getsize(path)
    if size == 0:
        return "it is empty (0 bytes)"
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        return (f"it is not an SQLite database (its first bytes are {header[:8].hex(' ')}, "
                f"not 'SQLite format 3')")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                return f"SQLite's integrity check fails: {'; '.join(problems)}"
            tables = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as error:
        return f"SQLite cannot read it: {error}"
    if MLMD_TABLE not in tables:
        return f"it is an SQLite database but not an ML Metadata store (no {MLMD_TABLE} table)"
    return None


def check(path: str, pipeline_root: str, model_dir: str, new_store: bool) -> List[str]:
    """Raises StoreError unless the run can use the store at `path`; else returns what to tell
    the user (often nothing). With `new_store` a damaged store is moved aside
    (`<path>.damaged-<time>`) and a missing one is accepted."""
    outputs = earlier_outputs(pipeline_root)
    if not os.path.exists(path):
        if outputs and not new_store:
            raise StoreError(
                f"the metadata store {path} is missing, but {pipeline_root} holds outputs of "
                f"earlier runs ({', '.join(outputs[:4])}{', ...' if len(outputs) > 4 else ''})."
                f" {_without(model_dir)} To start a new store anyway, rerun with "
                f"--new-metadata-store.")
        return [f"Starting a new metadata store {path}: earlier runs' outputs stay, nothing "
                "is reused from them."] if outputs else []
    wrong = damage(path)
    if wrong is None:
        return []
    if not outputs and os.path.getsize(path) == 0:  # a first run that died creating it
        os.remove(path)
        return [f"Removed the empty metadata store {path} (no run had recorded anything in "
                "it)."]
    if not new_store:
        raise StoreError(
            f"the metadata store {path} is damaged: {wrong}. {_without(model_dir)} Keep the "
            f"file to inspect or repair it (sqlite3 {path} '.recover'), or start a new store: "
            f"rerun with --new-metadata-store (the damaged file is moved aside, not deleted).")
    aside = f"{path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
    os.replace(path, aside)
    return [f"Moved the damaged metadata store ({wrong}) to {aside}; starting a new one: "
            "every component runs again and the candidate has no baseline."]


def _without(model_dir: str) -> str:
    return ("It records this pipeline root's runs; without it a run reuses nothing (every "
            "component runs again), has no baseline (the next model would be pushed without "
            f"being compared with the served one) and no run history. The pushed versions in "
            f"{model_dir} and their manifests are not in it and stay.")


def writable(path: str, create: bool = False):
    """The store at `path`, to write (`create`: made with ML Metadata's schema if missing)."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    modes = metadata_store_pb2.SqliteMetadataSourceConfig
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = modes.READWRITE_OPENCREATE if create else modes.READWRITE
    return metadata_store.MetadataStore(config)


def close_abandoned(path: str, pipeline_root: str) -> List[str]:
    """Marks executions a killed run left NEW or RUNNING as CANCELED (ABANDONED_KEY says why)
    and removes the directories only they wrote. Returns lines for the log. The caller holds
    the pipeline root's lock: no other run is alive to own them."""
    if not os.path.isfile(path):
        return []
    store = writable(path)
    open_executions = [execution for execution in store.get_executions()
                       if execution.last_known_state in (NEW, RUNNING)]
    if not open_executions:
        return []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    # What only these executions wrote (outputs TFX registered before they ran) is abandoned
    # with them; every other recorded artifact keeps its directory.
    theirs = {event.artifact_id for event in store.get_events_by_execution_ids(
        [execution.id for execution in open_executions]) if event.type == OUTPUT_EVENT}
    kept = {os.path.normpath(artifact.uri) for artifact in store.get_artifacts()
            if artifact.uri and artifact.id not in theirs}
    lines = []
    for execution in open_executions:
        execution.last_known_state = CANCELED
        execution.custom_properties[ABANDONED_KEY].string_value = (
            f"closed on {stamp} by the next run: the run that started it ended without "
            "recording an end (killed, or the disk was full)")
        removed = [directory for directory in _directories_of(pipeline_root, execution.id)
                   if _remove_unless_kept(directory, kept)]
        lines.append(f"execution {execution.id} was left running by an earlier run: marked "
                     f"CANCELED" + (f", removed {', '.join(removed)}" if removed else ""))
    store.put_executions(open_executions)
    return lines


def _directories_of(pipeline_root: str, execution_id: int) -> List[str]:
    """<root>/<node>/<output key>/<id> and <root>/<node>/.system/executor_execution/<id>."""
    found = []
    for node in earlier_outputs(pipeline_root):
        node_dir = os.path.join(pipeline_root, node)
        for key in os.listdir(node_dir):
            candidate = os.path.join(node_dir, key, str(execution_id))
            if key != ".system" and os.path.isdir(candidate):
                found.append(candidate)
        executor = os.path.join(node_dir, ".system", "executor_execution", str(execution_id))
        if os.path.isdir(executor):
            found.append(executor)
    return found


def _remove_unless_kept(directory: str, kept) -> bool:
    """Removes `directory` unless a recorded artifact's URI is in it (or it is in one)."""
    directory = os.path.normpath(directory)
    for uri in kept:
        if uri == directory or uri.startswith(directory + os.sep) or \
                directory.startswith(uri + os.sep):
            return False
    shutil.rmtree(directory, ignore_errors=True)
    return True
