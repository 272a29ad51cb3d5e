"""TensorFlow started on a given number of threads, for the reference benchmarks."""

import os


def start_tensorflow(threads):
    """Imports TensorFlow with `threads` intra-op and inter-op threads (set
    in the environment, which TensorFlow reads when it starts, and in
    tf.config once it has) and returns it."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf
