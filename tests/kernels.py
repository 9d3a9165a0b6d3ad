"""The kernels TensorFlow actually runs for a function, read from a profiler trace."""

import pytest
import tensorflow as tf

from keras_t2t.layers.utils import tensorflow_uses_onednn


def requires_onednn(dtype: str = "float32"):
    """Skips a test of oneDNN's kernels where TensorFlow runs `dtype` without them."""
    return pytest.mark.skipif(
        not tensorflow_uses_onednn(dtype),
        reason=f"TensorFlow runs {dtype} without oneDNN on this CPU "
        "(TF_ENABLE_ONEDNN_OPTS=1 turns it on; bfloat16 needs AVX-512)",
    )


def executed_op_types(function, *args, logdir) -> set[str]:
    """The types of the kernels TensorFlow ran for `function(*args)`, after graph optimisation."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    function(*args)  # trace and optimise outside the profile
    tf.profiler.experimental.start(str(logdir))
    function(*args)
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    space.ParseFromString(next(logdir.rglob("*.xplane.pb")).read_bytes())
    return {
        plane.event_metadata[event.metadata_id].name.rpartition(":")[2]
        for plane in space.planes
        for line in plane.lines
        for event in line.events
    }
