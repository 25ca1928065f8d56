"""A Keras callback recording each epoch's training and validation seconds, for either Keras:
the seed flow's `tf.keras` (Keras 3) and the project's `tf_keras` pass their own Callback."""

import time
from typing import Dict, List


def epoch_timer(callback_class):
    """An instance of a `callback_class` subclass whose `records` gets, per epoch,
    {"train_seconds", "validation_seconds"} (validation: the time inside on_test_begin/end)."""

    class EpochTimer(callback_class):
        def __init__(self):
            super().__init__()
            self.records: List[Dict[str, float]] = []
            self._start = self._test_start = self._validation = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start, self._validation = time.perf_counter(), 0.0

        def on_test_begin(self, logs=None):
            self._test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self._validation += time.perf_counter() - self._test_start

        def on_epoch_end(self, epoch, logs=None):
            total = time.perf_counter() - self._start
            self.records.append({"train_seconds": total - self._validation,
                                 "validation_seconds": self._validation})

    return EpochTimer()
