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
  1,000 items by default.
"""

import gc

# numpy prints arrays of more items than this as their first and last few (default 1,000).
PRINT_THRESHOLD = 64


def tune_this_process() -> None:
    """Freezes what the imports so far allocated (out of the collector's full passes) and
    lowers numpy's print threshold; call it once, after importing TFX and the pipeline."""
    import numpy as np

    np.set_printoptions(threshold=PRINT_THRESHOLD)
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
