import pytest

from keras_t2t.benchmark import (
    Result,
    _in_fresh_process,
    format_pipeline_table,
    format_table,
    measure,
    measure_pipeline,
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
        _in_fresh_process(_fails)
