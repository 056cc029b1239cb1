"""Readers of what a training run leaves behind: the run directory and one reader per format.

``run.Run`` finds and reads each artefact once; ``tables`` (predictions and returns, CSV or
Parquet), ``history`` (Keras ``CSVLogger``/JSON, and the epoch a check judges),
``tensorboard`` and ``tfrecord`` (event files, without TensorFlow), ``keras_archive``
(a ``.keras`` zip read as data) and ``config_file`` (JSON, TOML, YAML). The rest of the
package never needs to know how a format is read.
"""
