"""Settings for a process that runs the pipeline's components in itself (local_runner.py).

With the LocalDagRunner every executor, and every Beam job in in_memory mode, runs in the
runner's process, so two costs that are no work of the pipeline's grow with what the process
has imported and seen (py-spy profiles of a 2,000-image run, BENCHMARKS.md "Where the fixed
cost went"):

- Python's full garbage collections walk every tracked object, most of them from the imports
  (TensorFlow, TFX, Beam): ~1 s each, several a run. `gc.freeze()` after the imports moves those
  to a generation the collector no longer walks; what the run allocates is collected as before.
- TFMA calls the SavedModel's signatures with a positional batch of serialized examples; the
  signature refuses positional arguments, and TensorFlow formats the whole batch (every JPEG's
  bytes, ~50 KB an example) into the TypeError's message before retrying with the flat
  signature: ~2 ms an example a signature. numpy's print threshold makes that formatting
  summarize large arrays (their first and last items), as numpy does for arrays of more than
  1,000 items by default, and a formatter for object arrays (TensorFlow's strings) prints a
  long value's first bytes and its length instead of the whole escaped value.
"""

import gc

# numpy prints arrays of more items than this as their first and last few (default 1,000).
PRINT_THRESHOLD = 64
# ... and values of object arrays (bytes, str) longer than this as their first PRINT_CHARS.
PRINT_CHARS = 64


def short_repr(value) -> str:
    """repr of `value`, or for bytes/str longer than PRINT_CHARS its first PRINT_CHARS and
    its length: `b'\\xff\\xd8...'...(102,400 bytes)`."""
    if isinstance(value, (bytes, str)) and len(value) > PRINT_CHARS:
        unit = "bytes" if isinstance(value, bytes) else "characters"
        return f"{value[:PRINT_CHARS]!r}...({len(value):,} {unit})"
    return repr(value)


def print_options() -> dict:
    """numpy print options for the runner's process: PRINT_THRESHOLD, and short_repr for the
    values of object arrays."""
    return {"threshold": PRINT_THRESHOLD, "formatter": {"object": short_repr}}


def tune_this_process() -> None:
    """Freezes what the imports so far allocated (out of the collector's full passes) and
    shortens what numpy prints; call it once, after importing TFX and the pipeline."""
    import numpy as np

    np.set_printoptions(**print_options())
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
