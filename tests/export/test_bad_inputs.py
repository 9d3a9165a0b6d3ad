"""Bad requests fail with a message from the signature, and the server keeps serving."""

import base64
import json
import re

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from tests.export.conftest import encode, random_image
from tests.export.tf_serving import rest_predict

JPEG = encode(random_image(40, 40), "jpeg")
NOT_JPEG_NOR_PNG = "neither a JPEG nor a PNG"
IMAGES_SHAPE = r"not compatible with expected shape \[\?,32,32,3\]"
# The session says "Type mismatch: actual int32 vs. expect float", the TF2 function "expected to
# be a float tensor but is a int32 tensor".
INT32_FOR_FLOAT = r"(int32 vs\. expect float|float tensor but is a int32)"
FLOAT_FOR_STRING = r"(float vs\. expect string|string tensor but is a float tensor)"

# (signature, input name, value, what the error must say)
BAD_REQUESTS = {
    "undecodable_bytes": ("serving_bytes", "image_bytes", [b"GIF89a, or anything"], NOT_JPEG_NOR_PNG),
    "empty_bytes": ("serving_bytes", "image_bytes", [JPEG, b""], NOT_JPEG_NOR_PNG),
    "truncated_jpeg": ("serving_bytes", "image_bytes", [JPEG[: len(JPEG) // 3]], "Invalid JPEG data"),
    "bytes_rank_2": ("serving_bytes", "image_bytes", [[JPEG]], r"expected shape \[\?\]"),
    "bytes_as_floats": ("serving_bytes", "image_bytes", np.zeros(1, np.float32), FLOAT_FOR_STRING),
    "images_rank_3": ("serving_default", "images", np.zeros((2, 32, 32), np.float32), IMAGES_SHAPE),
    "images_4_channels": ("serving_default", "images", np.zeros((1, 32, 32, 4), np.float32), IMAGES_SHAPE),
    "images_1_channel": ("serving_default", "images", np.zeros((1, 32, 32, 1), np.float32), IMAGES_SHAPE),
    "images_wrong_size": ("serving_default", "images", np.zeros((1, 48, 48, 3), np.float32), IMAGES_SHAPE),
    "images_as_int32": ("serving_default", "images", np.zeros((1, 32, 32, 3), np.int32), INT32_FOR_FLOAT),
}
# REST converts JSON to the dtype the signature declares, so dtype mistakes cannot reach it.
REST_BAD_REQUESTS = [
    name for name, (_, _, value, _) in BAD_REQUESTS.items() if not isinstance(value, np.ndarray)
] + ["images_rank_3", "images_4_channels", "images_1_channel", "images_wrong_size"]


@pytest.fixture(scope="module")
def signatures(exported):
    return tf.saved_model.load(exported).signatures


def _grpc_request(signature: str, name: str, value) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny_t2t"
    request.model_spec.signature_name = signature
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def _still_serves(grpc_stub):
    request = _grpc_request("serving_bytes", "image_bytes", [JPEG])
    response = grpc_stub.Predict(request, timeout=60)
    assert tf.make_ndarray(response.outputs["probabilities"]).shape == (1, 5)


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_grpc_predict_rejects_with_a_clear_message(grpc_stub, case):
    signature, name, value, message = BAD_REQUESTS[case]
    with pytest.raises(grpc.RpcError) as error:
        grpc_stub.Predict(_grpc_request(signature, name, value), timeout=60)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert re.search(message, error.value.details()), error.value.details()
    _still_serves(grpc_stub)


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_loaded_signature_rejects_with_a_clear_message(signatures, case):
    signature, name, value, message = BAD_REQUESTS[case]
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError), match=message):
        signatures[signature](**{name: tf.constant(value)})


def _rest_value(value):
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [_rest_value(item) for item in value]
    return value.tolist()


@pytest.mark.parametrize("case", REST_BAD_REQUESTS)
def test_rest_predict_answers_with_an_error(servable, case):
    signature, name, value, message = BAD_REQUESTS[case]
    body = json.dumps({"signature_name": signature, "inputs": {name: _rest_value(value)}})
    response = json.loads(rest_predict(servable, body))
    assert set(response) == {"error"}
    assert re.search(message, response["error"]), response["error"]
