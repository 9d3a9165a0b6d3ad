import keras
import numpy as np

from keras_t2t.layers import Transition
from tests import numpy_reference as ref


def test_is_gelu_of_a_dense_layer():
    x = np.random.default_rng(0).normal(size=(2, 3, 10)).astype("float32")
    layer = Transition(5)
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (2, 3, 5) and layer.compute_output_shape((None, 3, 10)) == (None, 3, 5)
    np.testing.assert_allclose(out, ref.gelu(ref.dense(x.astype("float64"), layer.linear)), atol=1e-6)
    assert Transition.from_config(layer.get_config()).units == 5
