"""Throughput of T2T-ViT models as users run them (`predict_on_batch`, `train_on_batch`), where
their time goes (TensorFlow's profiler), and the throughput of the training input pipeline.

Each measurement runs in a fresh process, so precision policies, XLA caches and peak memory do not leak
from one row into the next. Rates are medians over timed steps after warm-up steps (which include
graph tracing and compilation). Achieved GFLOP/s counts 2 FLOPs per MAC of the model's graph, three
forward passes' worth for a training step, and is compared with the peak of a large `tf.matmul` in the
same precision, measured in the same run.
"""

import dataclasses
import itertools
import multiprocessing
import os
import queue as queue_module
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence

# "bfloat16": inference with the weights stored in bfloat16 (`keras_t2t.models.with_dtype`).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16")
INFERENCE_ONLY_PRECISIONS = ("bfloat16",)
MODES = ("inference", "training")
# TensorFlow's setting that lets its oneDNN matmul and convolution kernels treat every weight as a
# constant: each kernel reorders its weights into oneDNN's blocked layout at its first call and keeps
# that copy, which lets bfloat16 matmuls run on AMX's pre-packed path. A kernel never sees later
# changes to the weights, so it is for inference-only processes; it is read once per process.
FROZEN_WEIGHTS_VARIABLE = "TF_ONEDNN_ASSUME_FROZEN_WEIGHTS"


def set_frozen_weights(frozen: bool) -> None:
    """Sets `FROZEN_WEIGHTS_VARIABLE` for this process; only before its first TensorFlow kernel."""
    os.environ[FROZEN_WEIGHTS_VARIABLE] = "1" if frozen else "0"


@dataclasses.dataclass
class Result:
    model: str
    mode: str
    precision: str
    jit_compile: bool
    batch_size: int
    images_per_second: float
    gflops: float
    peak_memory_mib: float
    frozen_weights: bool = False


def median_step_seconds(step, warmup: int, steps: int) -> float:
    """Median seconds of `steps` calls of `step` after `warmup` calls."""
    for _ in range(warmup):
        step()
    durations = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started its program.

    Linux's VmHWM; not `ru_maxrss`, which a child process inherits from its parent at fork time
    (a measurement in a fresh process would report at least its parent's size).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux, bytes on macOS


def _peak_memory_mib() -> float:
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return peak_rss_mib()


def default_precisions() -> list[str]:
    """float32 and mixed_bfloat16, and mixed_float16 where a GPU is present: CPUs have no fast
    float16 matmul, so a mixed_float16 row there would only measure a slow fallback."""
    import tensorflow as tf

    precisions = ["float32", "mixed_bfloat16"]
    if tf.config.list_physical_devices("GPU"):
        precisions.append("mixed_float16")
    return precisions


def _matmul_peak_worker(precision: str, size: int, queue) -> None:
    import tensorflow as tf

    dtype = {"mixed_bfloat16": tf.bfloat16, "bfloat16": tf.bfloat16, "mixed_float16": tf.float16}.get(
        precision, tf.float32
    )
    a = tf.random.normal((size, size), dtype=tf.float32)
    a = tf.cast(a, dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    seconds = median_step_seconds(lambda: matmul(a).numpy(), warmup=2, steps=10)
    queue.put(2 * size**3 / seconds / 1e9)


def _model_step(config: dict):
    """The model of a measurement `config` and its step as a user runs it, with its MACs.

    Runs in a fresh process, before any TensorFlow kernel: `FROZEN_WEIGHTS_VARIABLE` set here is
    the one the process reads."""
    set_frozen_weights(config["frozen_weights"])
    import keras
    import numpy as np

    from keras_t2t.complexity import count_macs
    from keras_t2t.models import create_model, with_dtype

    stored_in_bfloat16 = config["precision"] == "bfloat16"
    keras.config.set_dtype_policy("float32" if stored_in_bfloat16 else config["precision"])
    size = config["image_size"]
    batch = config["batch_size"]
    model = create_model(
        config["model"],
        input_shape=(size, size, 3),
        classifier_activation=None,
        **config["model_kwargs"],
    )
    if stored_in_bfloat16:
        model = with_dtype(model, "bfloat16")
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    labels = rng.integers(0, 1000, (batch,))
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=config["jit_compile"],
    )
    if config["mode"] == "inference":
        return lambda: model.predict_on_batch(images), count_macs(model)
    return lambda: model.train_on_batch(images, labels), count_macs(model)


def _model_worker(config: dict, queue) -> None:
    step, macs = _model_step(config)
    seconds = median_step_seconds(step, config["warmup"], config["steps"])
    passes = 1 if config["mode"] == "inference" else 3
    flops = passes * 2 * macs * config["batch_size"]
    queue.put((config["batch_size"] / seconds, flops / seconds / 1e9, _peak_memory_mib()))


def in_fresh_process(target, *args):
    """`target(*args, queue)` in a new (spawned) process; returns what it put on `queue`."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except queue_module.Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"The benchmark process stopped with exit code {process.exitcode} before it "
                    "reported; its error is printed above."
                ) from None
    process.join()
    return result


def matmul_peak_gflops(precision: str = "float32", size: int = 4096) -> float:
    """GFLOP/s of a `size` x `size` matmul in the precision's compute dtype."""
    return in_fresh_process(_matmul_peak_worker, precision, size)


def _step_config(
    model: str,
    mode: str,
    precision: str,
    jit_compile: bool,
    batch_size: int,
    image_size: int,
    warmup: int,
    steps: int,
    model_kwargs: dict | None,
    frozen_weights: bool = False,
) -> dict:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if mode == "training" and precision in INFERENCE_ONLY_PRECISIONS:
        raise ValueError(
            f"precision {precision!r} stores the weights in bfloat16, for inference only; train with "
            "mixed_bfloat16."
        )
    if mode == "training" and frozen_weights:
        raise ValueError(
            f"frozen weights ({FROZEN_WEIGHTS_VARIABLE}=1) are for inference only: the oneDNN "
            "kernels would keep the first step's weights and ignore every update."
        )
    return dict(
        model=model,
        mode=mode,
        precision=precision,
        jit_compile=jit_compile,
        batch_size=batch_size,
        image_size=image_size,
        warmup=warmup,
        steps=steps,
        model_kwargs=model_kwargs or {},
        frozen_weights=frozen_weights,
    )


def measure(
    model: str,
    mode: str = "inference",
    precision: str = "float32",
    jit_compile: bool = False,
    batch_size: int = 16,
    image_size: int = 224,
    warmup: int = 3,
    steps: int = 10,
    model_kwargs: dict | None = None,
    frozen_weights: bool = False,
) -> Result:
    """Images per second, GFLOP/s and peak memory of one model in one mode and precision.

    `model_kwargs` go to `create_model`, e.g. `{"attention_chunk_size": 784}`. `frozen_weights`
    runs an inference step with `FROZEN_WEIGHTS_VARIABLE=1` (it is 0 otherwise).
    """
    config = _step_config(
        model,
        mode,
        precision,
        jit_compile,
        batch_size,
        image_size,
        warmup,
        steps,
        model_kwargs,
        frozen_weights,
    )
    images_per_second, gflops, peak = in_fresh_process(_model_worker, config)
    return Result(
        model, mode, precision, jit_compile, batch_size, images_per_second, gflops, peak, frozen_weights
    )


def format_table(results: list[Result], peaks: dict[str, float]) -> str:
    """A Markdown table of results, with each row's share of its precision's matmul peak."""
    lines = [
        "| model | mode | precision | XLA | batch | img/s | GFLOP/s | % of matmul peak | peak MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        share = 100 * r.gflops / peaks[r.precision]
        precision = f"{r.precision}, frozen weights" if r.frozen_weights else r.precision
        lines.append(
            f"| {r.model} | {r.mode} | {precision} | {'on' if r.jit_compile else 'off'} | "
            f"{r.batch_size} | {r.images_per_second:.1f} | {r.gflops:.0f} | {share:.0f}% | "
            f"{r.peak_memory_mib:.0f} |"
        )
    return "\n".join(lines)


def run(
    models: list[str],
    modes: list[str],
    precisions: list[str],
    jit_compile: list[bool],
    batch_size: int = 16,
    image_size: int = 224,
    warmup: int = 3,
    steps: int = 10,
    model_kwargs: dict | None = None,
    report=print,
    frozen_weights: Sequence[bool] = (False,),
) -> str:
    """Measures every combination, reporting the matmul peaks and each row as they come.

    Training rows of the inference-only precisions ("bfloat16") and of frozen weights are left out,
    with a line saying so. Returns the Markdown table of all rows.
    """
    peaks = {}
    for precision in precisions:
        peaks[precision] = matmul_peak_gflops(precision)
        report(f"matmul peak ({precision}): {peaks[precision]:.0f} GFLOP/s")
    if "training" in modes and set(precisions) & set(INFERENCE_ONLY_PRECISIONS):
        report(f"no training rows for {', '.join(INFERENCE_ONLY_PRECISIONS)}: weights stored for inference")
    if "training" in modes and any(frozen_weights):
        report("no training rows with frozen weights: a setting for inference only")
    results = []
    for model in models:
        for mode in modes:
            for precision in precisions:
                if mode == "training" and precision in INFERENCE_ONLY_PRECISIONS:
                    continue
                for jit, frozen in itertools.product(jit_compile, frozen_weights):
                    if mode == "training" and frozen:
                        continue
                    results.append(
                        measure(
                            model,
                            mode,
                            precision,
                            jit,
                            batch_size,
                            image_size,
                            warmup,
                            steps,
                            model_kwargs,
                            frozen,
                        )
                    )
                    report(format_table(results[-1:], peaks).splitlines()[-1])
    return format_table(results, peaks)


# Kernels of a step that XLA compiles whole carry XLA's names, not TensorFlow's op names.
XLA_STEP_PART = "whole step, XLA-compiled"
PARTS = ("T2T module", "blocks", "stem and head", "backward", "optimizer and loss", XLA_STEP_PART)
KINDS = ("matmul", "data movement", "elementwise and reductions")
_MATMUL_OP_TYPES = ("MatMul", "Einsum", "Conv2D")
_DATA_MOVEMENT_OP_TYPES = {
    "ConcatV2",
    "ExtractImagePatches",
    "Pack",
    "Pad",
    "Slice",
    "Split",
    "SplitV",
    "StridedSlice",
    "StridedSliceGrad",
    "Tile",
    "Transpose",
    "Unpack",
    "UnsortedSegmentSum",
}
# The words of XLA's kernel names (`bitcast_copy_fusion`, `wrapped_transpose`) that move data.
_XLA_DATA_MOVEMENT_WORDS = {"bitcast", "broadcast", "concatenate", "copy", "pad", "slice", "transpose"}


@dataclasses.dataclass
class Profile:
    """Where the time of one step goes, from TensorFlow's profiler.

    `kernel_ms` maps (part, kind) to the milliseconds a step of the kernels of that part and kind
    ran; `op_type_ms` maps each kernel type (after TensorFlow's graph rewrites, e.g.
    `_MklNativeFusedMatMul`) to its milliseconds a step. Kernels may run two at a time, so their
    sum can exceed `step_ms`, the wall time of a step. With XLA the model is one compiled kernel.
    """

    model: str
    mode: str
    precision: str
    jit_compile: bool
    batch_size: int
    step_ms: float
    kernel_ms: dict[tuple[str, str], float]
    op_type_ms: dict[str, float]
    frozen_weights: bool = False


def _part(op_name: str) -> str:
    if op_name == XLA_STEP_PART:
        return XLA_STEP_PART
    if op_name.startswith("gradient_tape/"):
        return "backward"
    if "/tokens_to_token" in op_name:
        return "T2T module"
    if "/block_" in op_name:
        return "blocks"
    if "/" in op_name and op_name.split("/", 1)[0].startswith(("t2t_vit", "vit")):
        return "stem and head"
    return "optimizer and loss"


def _kind(op_type: str) -> str:
    if any(name in op_type for name in _MATMUL_OP_TYPES):
        return "matmul"
    if op_type.removeprefix("_Mkl") in _DATA_MOVEMENT_OP_TYPES:
        return "data movement"
    words = set(op_type.split("_")) - {"wrapped", "fusion"}
    if words and words <= _XLA_DATA_MOVEMENT_WORDS:
        return "data movement"
    return "elementwise and reductions"


# The trace's event for a TensorFlow kernel that runs asynchronously, as function calls do; the
# kernel's op name and type are in its stats.
_ASYNC_KERNEL_EVENT = "ExecutorState::ProcessAsync::Start"


def _xla_function(hlo_module: str) -> str:
    """The TensorFlow function an HLO module was compiled from (its name without the
    `a_inference_` prefix and the `_<id>__...` suffix), e.g. `_gelu_forward`."""
    match = re.fullmatch(r"a_inference_(.+?)_\d+__.*", hlo_module)
    return match.group(1) if match else hlo_module


def _stats(plane, event) -> dict:
    return {
        plane.stat_metadata[stat.metadata_id].name: stat.str_value
        or (plane.stat_metadata[stat.ref_value].name if stat.ref_value else stat.int64_value)
        for stat in event.stats
    }


def _kernel_events(logdir: str):
    """(op name, op type, milliseconds) of every kernel in a profiler trace.

    TensorFlow's kernels run on its executor's threads (CPU) or a device's op lines (GPU). An
    XLA-compiled function that TensorFlow calls as one kernel (`jit_compile=True` inside a step
    that TensorFlow runs, like `keras_t2t.layers.utils.compiled_gelu`) counts as that kernel, its
    type `XLA <function>`; XLA's own kernels inside it, which run on the executor's thread and on
    the intra-op threads, are not counted again. A step that XLA compiles whole (`jit_compile` on
    the model) is not a TensorFlow kernel: each of XLA's kernels counts, its op name
    `XLA_STEP_PART` and its type its HLO name without the number (`MatMul`, `wrapped_convert`:
    XLA names them after the TensorFlow ops they lower).
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    traces = [
        os.path.join(root, name)
        for root, _, names in os.walk(logdir)
        for name in names
        if name.endswith(".xplane.pb")
    ]
    with open(traces[0], "rb") as file:
        space.ParseFromString(file.read())
    called_modules = set()  # the HLO modules of XLA functions that layers' kernels called
    xla_kernels = []  # (HLO module, HLO op, ms) of XLA's own kernels

    def finished(kernel: _Kernel):
        if kernel.modules and "/" not in kernel.op_name:
            return  # a call outside every layer's scope: a whole step that XLA compiled
        called_modules.update(kernel.modules)
        # A function call that TensorFlow ran kernel by kernel: those kernels count themselves.
        if kernel.modules or not kernel.is_call:
            yield kernel.op_name, kernel.op_type, kernel.ms

    for plane in space.planes:
        for line in plane.lines:
            executor = line.name.startswith(("tf_Compute", "TensorFlow Ops", "XLA Ops"))
            running: list[_Kernel] = []  # the kernels whose span covers the event, innermost last
            for event in sorted(line.events, key=lambda event: event.offset_ps):
                name = plane.event_metadata[event.metadata_id].name
                stats = _stats(plane, event) if event.stats else {}
                module = stats.get("hlo_module")
                if module:
                    xla_kernels.append((module, str(stats["hlo_op"]), event.duration_ps / 1e9))
                if not executor:
                    continue
                while running and running[-1].end_ps <= event.offset_ps:
                    yield from finished(running.pop())
                op_name, _, op_type = name.rpartition(":")
                if name == _ASYNC_KERNEL_EVENT:
                    running.append(_Kernel(stats["name"], stats["kernel_type"], event, is_call=True))
                elif op_name and "::" not in name and " " not in name:
                    # "name:type" kernels, not trace marks ("ExecutorState::Process", "end: copy")
                    running.append(_Kernel(op_name, op_type, event, is_call=False))
                elif running and module:
                    running[-1].ran_xla(module)
            while running:
                yield from finished(running.pop())
    for module, hlo_op, ms in xla_kernels:
        if module not in called_modules:
            # XLA names a kernel after the TensorFlow op it lowers, with numbers: `MatMul_1.258`.
            yield XLA_STEP_PART, re.sub(r"(_\d+)?\.\d+$", "", hlo_op), ms


class _Kernel:
    """A TensorFlow kernel in a trace, and the XLA programs it ran."""

    def __init__(self, op_name: str, op_type: str, event, is_call: bool):
        self.op_name, self.op_type, self.is_call = op_name, op_type, is_call
        self.ms = event.duration_ps / 1e9
        self.end_ps = event.offset_ps + event.duration_ps
        self.modules: set[str] = set()

    def ran_xla(self, module: str) -> None:
        self.modules.add(module)
        self.op_type = f"XLA {_xla_function(module)}"


def _profile_worker(config: dict, queue) -> None:
    import collections

    import tensorflow as tf

    step, _ = _model_step(config)
    for _ in range(config["warmup"]):
        step()
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        tf.profiler.experimental.start(logdir)
        for _ in range(config["steps"]):
            step()
        tf.profiler.experimental.stop()
        step_ms = (time.perf_counter() - start) * 1000 / config["steps"]
        kernel_ms, op_type_ms = collections.Counter(), collections.Counter()
        for op_name, op_type, ms in _kernel_events(logdir):
            kernel_ms[_part(op_name), _kind(op_type)] += ms / config["steps"]
            op_type_ms[op_type] += ms / config["steps"]
    queue.put((step_ms, dict(kernel_ms), dict(op_type_ms)))


def profile(
    model: str,
    mode: str = "inference",
    precision: str = "float32",
    jit_compile: bool = False,
    batch_size: int = 16,
    image_size: int = 224,
    warmup: int = 3,
    steps: int = 3,
    model_kwargs: dict | None = None,
    frozen_weights: bool = False,
) -> Profile:
    """Profiles `steps` steps of a model as `measure` runs them, in a fresh process."""
    config = _step_config(
        model,
        mode,
        precision,
        jit_compile,
        batch_size,
        image_size,
        warmup,
        steps,
        model_kwargs,
        frozen_weights,
    )
    step_ms, kernel_ms, op_type_ms = in_fresh_process(_profile_worker, config)
    return Profile(
        model, mode, precision, jit_compile, batch_size, step_ms, kernel_ms, op_type_ms, frozen_weights
    )


def format_profile(result: Profile, top_op_types: int = 12) -> str:
    """A Markdown table of milliseconds a step by part and kind, then the costliest kernel types."""
    total = sum(result.kernel_ms.values())
    frozen = ", frozen weights" if result.frozen_weights else ""
    jit = "on" if result.jit_compile else "off"
    lines = [
        f"{result.model} {result.mode}, {result.precision}{frozen}, XLA {jit}, "
        f"batch {result.batch_size}: {result.step_ms:.0f} ms a step; kernels ran {total:.0f} ms "
        "(ms a step; two kernels may run at once)",
        "",
        f"| part | {' | '.join(KINDS)} | all |",
        "|---" * (len(KINDS) + 2) + "|",
    ]
    for part in PARTS:
        cells = [result.kernel_ms.get((part, kind), 0.0) for kind in KINDS]
        if sum(cells):
            share = 100 * sum(cells) / total
            lines.append(
                f"| {part} | {' | '.join(f'{ms:.0f}' for ms in cells)} | {sum(cells):.0f} ({share:.0f}%) |"
            )
    kind_totals = [sum(ms for (_, kind), ms in result.kernel_ms.items() if kind == k) for k in KINDS]
    lines.append(f"| all | {' | '.join(f'{ms:.0f}' for ms in kind_totals)} | {total:.0f} |")
    costliest = sorted(result.op_type_ms.items(), key=lambda item: -item[1])[:top_op_types]
    lines += ["", "costliest kernel types: " + ", ".join(f"{op} {ms:.0f} ms" for op, ms in costliest)]
    return "\n".join(lines)


@dataclasses.dataclass
class PipelineResult:
    image_size: int
    batch_size: int
    cores: int
    images_per_second: float

    @property
    def images_per_second_per_core(self) -> float:
        return self.images_per_second / self.cores


def _write_jpegs(folder: str, count: int, size: tuple[int, int]) -> None:
    """`count` smooth random JPEGs of `size` (height, width) in two class folders of an image
    folder's train split, and one per class in its validation split."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for i in range(count + 2):
        split = "train" if i < count else "validation"
        class_dir = os.path.join(folder, split, f"class_{i % 2}")
        os.makedirs(class_dir, exist_ok=True)
        coarse = rng.uniform(0, 255, (size[0] // 8, size[1] // 8, 3)).astype("float32")
        image = tf.image.resize(coarse, size, method="bicubic")
        jpeg = tf.io.encode_jpeg(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), quality=90)
        tf.io.write_file(os.path.join(class_dir, f"{i}.jpg"), jpeg)


def _pipeline_worker(config: dict, queue) -> None:
    from keras_t2t.data import train_dataset

    with tempfile.TemporaryDirectory() as folder:
        _write_jpegs(folder, config["num_images"], config["source_size"])
        size = config["image_size"]
        batches = iter(
            train_dataset(folder, image_size=(size, size), batch_size=config["batch_size"], seed=0)
        )
        seconds = median_step_seconds(lambda: next(batches), config["warmup"], config["steps"])
    queue.put(config["batch_size"] / seconds)


def measure_pipeline(
    image_size: int = 224,
    batch_size: int = 64,
    warmup: int = 3,
    steps: int = 10,
    source_size: tuple[int, int] = (375, 500),
    num_images: int = 256,
) -> PipelineResult:
    """Images per second of `keras_t2t.data.train_dataset` with the paper's full augmentation.

    Reads `num_images` JPEGs of `source_size` (ImageNet's typical 375 x 500) written to a temporary
    image folder, so decoding is measured, and uses every core this process may run on.
    """
    config = dict(
        image_size=image_size,
        batch_size=batch_size,
        warmup=warmup,
        steps=steps,
        source_size=source_size,
        num_images=num_images,
    )
    images_per_second = in_fresh_process(_pipeline_worker, config)
    return PipelineResult(image_size, batch_size, len(os.sched_getaffinity(0)), images_per_second)


def format_pipeline_table(result: PipelineResult) -> str:
    return "\n".join(
        [
            "| pipeline | image size | batch | cores | img/s | img/s per core |",
            "|---|---|---|---|---|---|",
            f"| train, full augmentation | {result.image_size} | {result.batch_size} | {result.cores} | "
            f"{result.images_per_second:.0f} | {result.images_per_second_per_core:.0f} |",
        ]
    )
