"""Files on a local disk or in an object store (gs://) behind one interface (files.py), and the
lock files that keep one run per pipeline root and one push per model directory
(lock_file.py). Standard library only; TensorFlow only for `<scheme>://` paths."""
