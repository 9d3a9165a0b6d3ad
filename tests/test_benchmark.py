import os
import subprocess
import sys

import numpy as np
import pytest

from keras_t2t import cli
from keras_t2t.benchmark import (
    FROZEN_WEIGHTS_VARIABLE,
    XLA_STEP_PART,
    Profile,
    Result,
    _kind,
    _model_step,
    _part,
    _step_config,
    _xla_function,
    default_precisions,
    format_pipeline_table,
    format_profile,
    format_table,
    in_fresh_process,
    measure,
    measure_pipeline,
    peak_rss_mib,
    profile,
)
from keras_t2t.complexity import count_macs
from keras_t2t.models import create_model


def test_measure_runs_a_real_training_step_and_reports_consistent_numbers():
    result = measure(
        "t2t_vit_7", "training", "float32", False, batch_size=2, image_size=32, warmup=1, steps=2
    )
    assert result.images_per_second > 0
    assert result.peak_memory_mib > 100  # a TensorFlow process holds far more than 100 MiB
    # 2 FLOPs per MAC, 3 forward passes' worth per training step: GFLOP/s follows from img/s.
    macs_per_image = result.gflops * 1e9 / result.images_per_second / 6
    expected = count_macs(create_model("t2t_vit_7", input_shape=(32, 32, 3)))
    assert macs_per_image == pytest.approx(expected, rel=1e-6)


def test_table_gives_each_row_its_share_of_the_matmul_peak():
    rows = [Result("t2t_vit_7", "inference", "float32", True, 16, 100.0, 200.0, 1024.0)]
    table = format_table(rows, {"float32": 400.0})
    assert "| t2t_vit_7 | inference | float32 | on | 16 | 100.0 | 200 | 50% | 1024 |" in table


def test_frozen_weights_are_named_in_the_table_and_refused_for_training():
    rows = [Result("t2t_vit_7", "inference", "bfloat16", False, 1, 20.0, 200.0, 900.0, True)]
    table = format_table(rows, {"bfloat16": 1000.0})
    assert "| t2t_vit_7 | inference | bfloat16, frozen weights | off | 1 | 20.0 | 200 | 20% | 900 |" in table
    with pytest.raises(ValueError, match="for inference only"):
        measure("t2t_vit_7", "training", "float32", batch_size=2, image_size=32, frozen_weights=True)


def _frozen_weights_setting_of_a_step(config, queue):
    _model_step(config)
    queue.put(os.environ[FROZEN_WEIGHTS_VARIABLE])


@pytest.mark.parametrize("frozen, setting", [(False, "0"), (True, "1")])
def test_a_step_runs_under_the_frozen_weights_setting_it_was_given(frozen, setting):
    config = _step_config("t2t_vit_7", "inference", "float32", False, 1, 32, 1, 1, None, frozen)
    assert in_fresh_process(_frozen_weights_setting_of_a_step, config) == setting


def test_cli_profiles_frozen_weights_for_inference_rows_only(monkeypatch, capsys):
    profiled = []
    monkeypatch.setattr(cli, "profile", lambda *args: profiled.append((args[1], args[-1])))
    monkeypatch.setattr(cli, "format_profile", lambda result: "")
    args = ["benchmark", "--tables", "profile", "--models", "t2t_vit_7", "--modes", "inference", "training"]
    assert cli.main([*args, "--precisions", "float32", "--jit", "off", "--frozen-weights", "off", "on"]) == 0
    assert profiled == [("inference", False), ("inference", True), ("training", False)]


def test_pipeline_measurement_reads_real_jpegs_and_reports_per_core():
    result = measure_pipeline(
        image_size=32, batch_size=4, warmup=1, steps=2, source_size=(48, 64), num_images=8
    )
    assert result.images_per_second > 0
    assert result.images_per_second_per_core == pytest.approx(result.images_per_second / result.cores)
    table = format_pipeline_table(result)
    assert f"| train, full augmentation | 32 | 4 | {result.cores} |" in table


def _fails(queue):
    raise SystemExit(3)


def test_a_measurement_process_that_dies_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="exit code 3"):
        in_fresh_process(_fails)


@pytest.mark.parametrize(
    "op_name, part",
    [
        ("t2t_vit_14_1/backbone_1/tokens_to_token_1/soft_split0_1/ExtractImagePatches", "T2T module"),
        ("t2t_vit_14_1/backbone_1/block_3_1/mlp_1/fc1_1/Gelu/mul_2", "blocks"),
        ("t2t_vit_14_1/preprocessing_1/truediv", "stem and head"),
        ("gradient_tape/t2t_vit_14_1/backbone_1/block_3_1/attn_1/MatMul", "backward"),
        ("adam_w/Square_45", "optimizer and loss"),
    ],
)
def test_kernels_are_assigned_to_the_model_part_their_name_scope_says(op_name, part):
    assert _part(op_name) == part


@pytest.mark.parametrize(
    "op_type, kind",
    [
        ("_MklNativeFusedMatMul", "matmul"),
        ("BatchMatMulV2", "matmul"),
        ("_MklEinsum", "matmul"),
        ("_MklTranspose", "data movement"),
        ("ExtractImagePatches", "data movement"),
        ("Erfc", "elementwise and reductions"),
        ("Mean", "elementwise and reductions"),
        ("bitcast_copy_fusion", "data movement"),  # XLA's kernels, named after what they fuse
        ("wrapped_transpose", "data movement"),
        ("loop_multiply_fusion", "elementwise and reductions"),
        ("wrapped_convert", "elementwise and reductions"),
        ("fusion", "elementwise and reductions"),
    ],
)
def test_kernel_types_are_grouped_by_what_they_do(op_type, kind):
    assert _kind(op_type) == kind


def test_profile_of_a_training_step_covers_every_part():
    result = profile("t2t_vit_7", "training", batch_size=2, image_size=32, warmup=1, steps=1)
    parts = {part for (part, _), ms in result.kernel_ms.items() if ms > 0}
    assert {"T2T module", "blocks", "backward", "optimizer and loss"} <= parts
    assert result.kernel_ms["blocks", "matmul"] > 0
    assert result.op_type_ms["ExtractImagePatches"] > 0  # the soft splits, in the T2T module
    # The blocks' GELU and its gradient are XLA functions that TensorFlow calls as one kernel each.
    assert result.op_type_ms["XLA _gelu_forward"] > 0
    assert result.op_type_ms["XLA _gelu_backward"] > 0
    assert sum(result.kernel_ms.values()) == pytest.approx(sum(result.op_type_ms.values()))
    assert result.kernel_ms.get((XLA_STEP_PART, "matmul"), 0) == 0
    assert result.step_ms > 0


def test_profile_of_a_step_that_xla_compiles_whole_counts_xlas_own_kernels():
    result = profile(
        "t2t_vit_7", "inference", jit_compile=True, batch_size=2, image_size=32, warmup=1, steps=1
    )
    assert result.kernel_ms[XLA_STEP_PART, "matmul"] > 0
    assert result.kernel_ms.get((XLA_STEP_PART, "elementwise and reductions"), 0) > 0
    # The step itself is a call, not a kernel: its time is not counted beside its kernels'.
    assert not [op_type for op_type in result.op_type_ms if op_type.startswith("XLA ")]
    assert sum(result.kernel_ms.values()) < result.step_ms


@pytest.mark.parametrize(
    "hlo_module, function",
    [
        ("a_inference__gelu_forward_1806__.1", "_gelu_forward"),
        ("a_inference_one_step_on_data_4521__XlaMustCompile_true_config_proto_3175.12", "one_step_on_data"),
        ("cluster_3", "cluster_3"),
    ],
)
def test_an_hlo_modules_function_is_its_name_without_tensorflows_decorations(hlo_module, function):
    assert _xla_function(hlo_module) == function


def test_profile_table_sums_each_part_and_kind():
    result = Profile(
        "t2t_vit_7",
        "inference",
        "float32",
        False,
        4,
        step_ms=50.0,
        kernel_ms={
            ("blocks", "matmul"): 30.0,
            ("blocks", "data movement"): 6.0,
            ("T2T module", "matmul"): 4.0,
        },
        op_type_ms={"_MklMatMul": 34.0, "_MklTranspose": 6.0},
    )
    table = format_profile(result)
    assert "batch 4: 50 ms a step; kernels ran 40 ms" in table
    assert "| T2T module | 4 | 0 | 0 | 4 (10%) |" in table
    assert "| blocks | 30 | 6 | 0 | 36 (90%) |" in table
    assert "| all | 34 | 6 | 0 | 40 |" in table
    assert "backward" not in table
    assert "costliest kernel types: _MklMatMul 34 ms, _MklTranspose 6 ms" in table


def test_cli_prints_the_profile_table(capsys):
    args = ["benchmark", "--tables", "profile", "--models", "t2t_vit_7", "--modes", "inference"]
    args += ["--precisions", "float32", "--jit", "off", "--batch-size", "1", "--image-size", "32"]
    assert cli.main([*args, "--warmup", "1", "--profile-steps", "1"]) == 0
    assert "| T2T module |" in capsys.readouterr().out


def test_peak_memory_of_a_child_process_is_its_own_not_its_parents():
    """`ru_maxrss` would report at least this process's size in a child it starts."""
    ballast = np.ones(1536 * 2**20 // 8)  # 1.5 GiB, touched
    # The child touches 200 MiB of its own.
    script = (
        "import numpy as np; from keras_t2t.benchmark import peak_rss_mib; "
        "own = np.ones(200 * 2**20 // 8); print(peak_rss_mib())"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    child_peak = float(child.stdout.split()[-1])
    assert 200 < child_peak < peak_rss_mib() - ballast.nbytes / 2**20 / 2


@pytest.mark.parametrize(
    "gpus, expected",
    [
        ([], ["float32", "mixed_bfloat16"]),
        (["GPU:0"], ["float32", "mixed_bfloat16", "mixed_float16"]),
    ],
)
def test_float16_is_measured_by_default_only_where_a_gpu_is_present(monkeypatch, gpus, expected):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    assert default_precisions() == expected


@pytest.mark.parametrize(
    "flags, expected",
    [([], ["float32", "mixed_float16"]), (["--precisions", "mixed_bfloat16"], ["mixed_bfloat16"])],
)
def test_cli_measures_the_default_precisions_unless_told_others(monkeypatch, flags, expected):
    measured = []
    monkeypatch.setattr(cli, "default_precisions", lambda: ["float32", "mixed_float16"])
    monkeypatch.setattr(
        cli, "run", lambda models, modes, precisions, *args, **kwargs: measured.append(precisions) or ""
    )
    assert cli.main(["benchmark", "--tables", "models", *flags]) == 0
    assert measured == [expected]
