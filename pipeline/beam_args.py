"""Which Beam arguments the DirectRunner can be trusted with (Beam 2.66, requirements.lock).

With more than one worker (`--direct_num_workers` other than 1; 0 means one per core) the
DirectRunner's FnApiRunner runs a stage's bundles in parallel threads, and the threads race to
create the buffer of a GroupByKey the stage writes to: `BundleContextManager.get_buffer` in
apache_beam/runners/portability/fn_api_runner/execution.py checks `buffer_id not in
pcoll_buffers` and then builds and stores a new buffer, so two threads can each store one and
the elements appended to the first are lost. Every TFX ExampleGen reshuffles before it writes:
the project's ingest of 2,000 images with multi_threading and 2 workers wrote 999 or 998 of a
split's 1,000 checked examples in 4 of 12 splits (6 runs, counted against its own outcome
records; every element reached the Reshuffle, 1 or 2 never reached the writer). With one worker
(in_memory, the DirectRunner's default) 10 of 10 splits were whole (5 runs).
"""

from typing import List, Optional

WORKERS_FLAG = "--direct_num_workers"


def _value(args: List[str], flag: str) -> Optional[str]:
    """The last value given for `flag` (`--flag=value` or `--flag value`), or None."""
    value = None
    for index, arg in enumerate(args):
        if arg.startswith(flag + "="):
            value = arg[len(flag) + 1:]
        elif arg == flag and index + 1 < len(args):
            value = args[index + 1]
    return value


def direct_workers_problem(args: List[str]) -> Optional[str]:
    """Why `args` would make the DirectRunner lose records, or None."""
    runner = _value(args, "--runner")
    workers = _value(args, WORKERS_FLAG)
    if workers is None or (runner is not None and runner not in ("DirectRunner", "direct")):
        return None
    if workers.strip() == "1":
        return None
    return (f"{WORKERS_FLAG}={workers}: with more than one worker Beam's DirectRunner (2.66) can "
            "drop records (its worker threads race to create a GroupByKey's buffer; "
            "pipeline/beam_args.py). Leave it at 1, or run the Beam jobs on Dataflow")
