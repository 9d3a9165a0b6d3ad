"""A stand-in for TensorFlow Serving, for tests: no server binary installs from this machine.

It loads a SavedModel the way TF Serving does (a TF1 session over the "serve" MetaGraph, each
signature run by its tensor names in the C++ session) and answers the two predict APIs:

- REST: the JSON body of `POST /v1/models/NAME:predict`, row (`instances`) or columnar (`inputs`)
  format, `{"b64": ...}` for binary strings, `{"error": ...}` on failure.
- gRPC: `PredictionService.Predict` over a real gRPC server on 127.0.0.1, with the
  tensorflow-serving-api protos.
"""

import base64
import json
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc


class SessionServable:
    """A SavedModel loaded into a TF1 session, as TF Serving's SavedModelBundle holds it."""

    def __init__(self, saved_model_dir: str):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.load(self.session, ["serve"], saved_model_dir)
        self.signatures = meta_graph.signature_def

    def input_dtypes(self, signature_name: str) -> dict[str, tf.DType]:
        inputs = self._signature(signature_name).inputs
        return {name: tf.as_dtype(info.dtype) for name, info in inputs.items()}

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        signature = self._signature(signature_name)
        if set(inputs) != set(signature.inputs):
            raise ValueError(
                f"Signature {signature_name!r} takes inputs {sorted(signature.inputs)}; "
                f"the request has {sorted(inputs)}."
            )
        output_names = sorted(signature.outputs)
        options = config_pb2.CallableOptions(
            feed=[signature.inputs[name].name for name in inputs],
            fetch=[signature.outputs[name].name for name in output_names],
        )
        # The private entry point runs the C++ session directly, as TF Serving does: the
        # public Session.run would check shapes and convert dtypes in Python first, hiding
        # what the signature itself does with bad input.
        values = self.session._make_callable_from_options(options)(*inputs.values())
        return dict(zip(output_names, values, strict=True))

    def _signature(self, signature_name: str):
        if signature_name not in self.signatures:
            raise ValueError(f"Serving signature name: {signature_name!r} not found in signature def")
        return self.signatures[signature_name]


def _from_json(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return value


def _to_json(name: str, value: np.ndarray):
    if value.dtype == object:
        # Outputs named *_bytes are binary and go back base64-encoded; other strings as text.
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(
                value
            ).tolist()
        return np.vectorize(lambda b: b.decode(), otypes=[object])(value).tolist()
    return value.tolist()


def rest_predict(servable: SessionServable, body: str) -> str:
    """Answers a REST predict request body (JSON text) with the response body."""
    try:
        request = json.loads(body)
        signature_name = request.get("signature_name", "serving_default")
        dtypes = servable.input_dtypes(signature_name)
        if ("instances" in request) == ("inputs" in request):
            raise ValueError("The request must have exactly one of 'instances' or 'inputs'.")
        if "instances" in request:
            rows = request["instances"]
            if len(dtypes) == 1 and not all(isinstance(row, dict) for row in rows):
                rows = [{next(iter(dtypes)): row} for row in rows]
            columns = {name: [row[name] for row in rows] for name in dtypes}
        else:
            columns = request["inputs"]
            if not isinstance(columns, dict):
                columns = {next(iter(dtypes)): columns}
        # Like TF Serving, JSON values become tensors of the dtype the signature declares.
        inputs = {
            name: tf.constant(_from_json(value), dtype=dtypes[name]).numpy()
            for name, value in columns.items()
        }
        outputs = servable.run(signature_name, inputs)
    except (ValueError, TypeError, KeyError, tf.errors.OpError) as error:
        return json.dumps({"error": getattr(error, "message", str(error))})
    if "instances" in request:
        batch = len(next(iter(outputs.values())))
        predictions = [
            {name: _to_json(name, value[i]) for name, value in outputs.items()} for i in range(batch)
        ]
        return json.dumps({"predictions": predictions})
    return json.dumps({"outputs": {name: _to_json(name, value) for name, value in outputs.items()}})


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, servable: SessionServable):
        self.servable = servable

    def Predict(self, request, context):
        signature_name = request.model_spec.signature_name or "serving_default"
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        try:
            outputs = self.servable.run(signature_name, inputs)
        except (ValueError, tf.errors.OpError) as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, getattr(error, "message", str(error)))
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.signature_name = signature_name
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response


class GrpcServer:
    """`PredictionService` on 127.0.0.1 (a free port), in this process; a context manager."""

    def __init__(self, servable: SessionServable):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionService(servable), self.server
        )
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    def __enter__(self) -> prediction_service_pb2_grpc.PredictionServiceStub:
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        return prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def __exit__(self, *exc_info):
        self.channel.close()
        self.server.stop(grace=None)
