"""Exported files run by their own runtimes, from NumPy: ONNX Runtime, LiteRT and OpenVINO.

`load_artifact("model.onnx")` gives a callable taking the float32 array the file was exported
for and returning its float32 output. For `keras_t2t.export.artifact` files that is
`(batch, H, W, 3)` RGB 0..255 in and `(batch, classes)` probabilities out, at any batch size. The
runtime is chosen by the file's suffix and imported when a file is loaded; each is an extra of
keras_t2t, named in the error when it is missing.
"""

import importlib.util
import os

import numpy as np

# Artifact suffix -> its format, which is also Keras' `export` format and the name of the
# keras_t2t extra that installs the format's converter and runtime.
ARTIFACT_FORMATS = {".onnx": "onnx", ".tflite": "litert", ".xml": "openvino"}
RUNTIME_MODULES = {".onnx": "onnxruntime", ".tflite": "ai_edge_litert", ".xml": "openvino"}
RUNTIME_NAMES = {".onnx": "an ONNX", ".tflite": "a LiteRT", ".xml": "an OpenVINO IR"}


class Artifact:
    """One exported file, loaded in its runtime.

    Attributes:
        path: the file.
        input_shape: the input's shape, `None` for a dimension of any size (the batch).
        output_shape: the output's shape, likewise.
    """

    def __init__(self, path: str, input_shape: tuple, output_shape: tuple):
        self.path = path
        self.input_shape = input_shape
        self.output_shape = output_shape

    def __call__(self, inputs) -> np.ndarray:
        """Runs one batch: `inputs` shaped `input_shape` -> a float32 array shaped `output_shape`."""
        inputs = np.ascontiguousarray(inputs, np.float32)
        if inputs.ndim != len(self.input_shape) or any(
            given not in (None, actual) for given, actual in zip(self.input_shape, inputs.shape, strict=True)
        ):
            expected = ", ".join("batch" if size is None else str(size) for size in self.input_shape)
            raise ValueError(
                f"{self.path} takes inputs shaped ({expected}); received shape {inputs.shape}. "
                "Resize the images to the size the file was exported at, or export it again at "
                "this size."
            )
        return np.asarray(self._run(inputs), np.float32)

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class OnnxArtifact(Artifact):
    def __init__(self, path: str, num_threads: int | None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        [inputs], [outputs] = self.session.get_inputs(), self.session.get_outputs()
        self.input_name = inputs.name
        super().__init__(path, _static_shape(inputs.shape), _static_shape(outputs.shape))

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: inputs})[0]


class LiteRTArtifact(Artifact):
    def __init__(self, path: str, num_threads: int | None):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(path, num_threads=num_threads or os.cpu_count())
        [inputs], [outputs] = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if inputs["dtype"] != np.float32:
            raise ValueError(
                f"{path} takes {np.dtype(inputs['dtype']).name} inputs; keras_t2t runs LiteRT files "
                "with float32 inputs and outputs, as keras_t2t.export.artifact writes them (the "
                "int8 quantization included)."
            )
        self.input_index, self.output_index = inputs["index"], outputs["index"]
        self.allocated_shape = None
        super().__init__(
            path, _static_shape(inputs["shape_signature"]), _static_shape(outputs["shape_signature"])
        )

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        if inputs.shape != self.allocated_shape:
            self.interpreter.resize_tensor_input(self.input_index, inputs.shape)
            self.interpreter.allocate_tensors()
            self.allocated_shape = inputs.shape
        self.interpreter.set_tensor(self.input_index, inputs)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_index)


class OpenVINOArtifact(Artifact):
    def __init__(self, path: str, num_threads: int | None):
        import openvino

        # float32 throughout: on CPUs with fast bfloat16 OpenVINO would otherwise compute in it.
        config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
        if num_threads is not None:
            config["INFERENCE_NUM_THREADS"] = num_threads
        self.compiled = openvino.Core().compile_model(path, "CPU", config)
        self.request = self.compiled.create_infer_request()
        [inputs], [outputs] = self.compiled.inputs, self.compiled.outputs

        def shape(port) -> tuple:
            return tuple(None if size.is_dynamic else size.get_length() for size in port.get_partial_shape())

        super().__init__(path, shape(inputs), shape(outputs))

    def _run(self, inputs: np.ndarray) -> np.ndarray:
        return self.request.infer({0: inputs})[0]


ARTIFACT_CLASSES = {".onnx": OnnxArtifact, ".tflite": LiteRTArtifact, ".xml": OpenVINOArtifact}


def is_artifact(path: str) -> bool:
    """Whether `path` names a file for another runtime, by its suffix."""
    return os.path.splitext(path)[1] in ARTIFACT_FORMATS


def load_artifact(path: str, num_threads: int | None = None) -> Artifact:
    """Loads an `.onnx`, `.tflite` or `.xml` (OpenVINO IR) file in its runtime, on the CPU.

    Args:
        path: the file (an OpenVINO `.xml` with its `.bin` beside it).
        num_threads: the runtime's threads; `None` leaves the runtime's default (LiteRT: one per
            core).

    Raises:
        ValueError: an unknown suffix, or a file the runtime cannot read.
        FileNotFoundError: no such file.
        ImportError: the runtime is not installed; the message names the extra to install.
    """
    suffix = os.path.splitext(path)[1]
    if suffix not in ARTIFACT_CLASSES:
        raise ValueError(
            f"{path!r} is not a file of another runtime: their suffixes are "
            f"{', '.join(f'{s} ({f})' for s, f in ARTIFACT_FORMATS.items())}."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file.")
    module = RUNTIME_MODULES[suffix]
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f'Running {suffix} files needs {module}: pip install "keras_t2t[{ARTIFACT_FORMATS[suffix]}]".'
        )
    try:
        return ARTIFACT_CLASSES[suffix](path, num_threads)
    except (ImportError, MemoryError):
        raise
    except Exception as error:  # each runtime raises its own types for an unreadable file
        raise ValueError(
            f"{path} cannot be read as {RUNTIME_NAMES[suffix]} file ({type(error).__name__}: "
            f"{str(error).strip().splitlines()[0] if str(error).strip() else 'no details'}). Export it "
            "again (keras-t2t export --format ...)."
        ) from error


def _static_shape(shape) -> tuple:
    """A runtime's shape with its symbolic or unknown dimensions (names, -1, None) as None."""
    return tuple(int(size) if isinstance(size, int | np.integer) and size >= 0 else None for size in shape)
