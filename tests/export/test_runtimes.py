"""keras_t2t.runtimes.load_artifact and `keras-t2t predict` on exported files."""

import importlib.util
import re

import numpy as np
import pytest

import keras_t2t
from keras_t2t import runtimes
from keras_t2t.cli import main
from tests.export.conftest import encode, random_image

TINY = dict(input_shape=(32, 32, 3), depth=1, embed_dim=32, num_heads=2, token_dim=8, classes=5)
SUFFIXES = {".onnx": "onnxruntime", ".tflite": "ai_edge_litert", ".xml": "openvino"}


def _images(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (batch, 32, 32, 3)).astype("float32")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny sharpened classifier as .keras and as every artifact whose tools are installed,
    and two pictures."""
    folder = tmp_path_factory.mktemp("runtimes")
    model = keras_t2t.create_model("t2t_vit_7", **TINY)
    model.head.kernel.assign(model.head.kernel * 30.0)
    model.save(folder / "model.keras")
    for suffix, module in SUFFIXES.items():
        if importlib.util.find_spec(module) and (suffix != ".onnx" or importlib.util.find_spec("tf2onnx")):
            keras_t2t.export.artifact(model, str(folder / f"model{suffix}"))
    (folder / "a.png").write_bytes(encode(random_image(40, 60, seed=1), "png"))
    (folder / "b.jpg").write_bytes(encode(random_image(90, 45, seed=2), "jpeg"))
    return folder, model


def _artifact(files, suffix: str) -> str:
    folder, _ = files
    pytest.importorskip(SUFFIXES[suffix])
    path = folder / f"model{suffix}"
    if not path.exists():
        pytest.skip(f"no converter for {suffix}")
    return str(path)


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_each_file_runs_in_its_runtime_at_any_batch_size(files, suffix):
    artifact = runtimes.load_artifact(_artifact(files, suffix))
    assert artifact.input_shape == (None, 32, 32, 3) and artifact.output_shape == (None, 5)
    for batch in (1, 3, 1):  # LiteRT reallocates its tensors when the batch changes
        images = _images(batch, seed=batch)
        probabilities = artifact(images)
        assert probabilities.dtype == np.float32 and probabilities.shape == (batch, 5)
        np.testing.assert_allclose(probabilities, files[1](images), atol=1e-5)


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_inputs_of_another_shape_are_refused_by_name(files, suffix):
    path = _artifact(files, suffix)
    with pytest.raises(
        ValueError,
        match=re.escape(f"{path} takes inputs shaped (batch, 32, 32, 3); received shape (1, 28, 28, 3)"),
    ):
        runtimes.load_artifact(path)(np.zeros((1, 28, 28, 3)))
    with pytest.raises(ValueError, match=r"received shape \(32, 32, 3\)"):
        runtimes.load_artifact(path)(np.zeros((32, 32, 3)))


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_corrupt_and_missing_files_are_named(suffix, tmp_path):
    pytest.importorskip(SUFFIXES[suffix])
    corrupt = tmp_path / f"corrupt{suffix}"
    corrupt.write_bytes(b"not a model at all" * 10)
    kind = {".onnx": "an ONNX", ".tflite": "a LiteRT", ".xml": "an OpenVINO IR"}[suffix]
    with pytest.raises(ValueError, match=f"{re.escape(str(corrupt))} cannot be read as {kind} file"):
        runtimes.load_artifact(str(corrupt))
    with pytest.raises(FileNotFoundError, match="no such file"):
        runtimes.load_artifact(str(tmp_path / f"missing{suffix}"))


def test_the_module_is_an_attribute_of_the_package():
    assert keras_t2t.runtimes.load_artifact is runtimes.load_artifact
    assert "runtimes" in dir(keras_t2t)


def test_a_missing_runtime_names_the_extra(files, monkeypatch):
    path = _artifact(files, ".tflite")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "ai_edge_litert" else real_find_spec(name)
    )
    with pytest.raises(ImportError, match=r'needs ai_edge_litert: pip install "keras_t2t\[litert\]"'):
        runtimes.load_artifact(path)
    with pytest.raises(ValueError, match=r"suffixes are \.onnx \(onnx\), \.tflite \(litert\), \.xml"):
        runtimes.load_artifact("model.pb")


def _printed(capsys) -> list[tuple[str, list[tuple[str, float]]]]:
    """`keras-t2t predict`'s output as (file, [(class, probability)...]) entries."""
    entries = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("  "):
            probability, name = line.split()
            entries[-1][1].append((name, float(probability)))
        else:
            entries.append((line, []))
    return entries


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_predict_gives_the_keras_models_output(files, suffix, capsys):
    path = _artifact(files, suffix)
    folder, _ = files
    pictures = [str(folder / "a.png"), str(folder / "b.jpg")]
    assert main(["predict", *pictures, "--weights", str(folder / "model.keras"), "--top", "3"]) == 0
    expected = _printed(capsys)
    assert main(["predict", *pictures, "--weights", path, "--top", "3"]) == 0
    printed = _printed(capsys)
    assert [file for file, _ in printed] == pictures
    for (_, classes), (_, expected_classes) in zip(printed, expected, strict=True):
        assert [name for name, _ in classes] == [name for name, _ in expected_classes]
        np.testing.assert_allclose([p for _, p in classes], [p for _, p in expected_classes], atol=2e-4)


def test_flags_an_artifact_fixes_are_refused(files, capsys):
    path = _artifact(files, ".tflite")
    folder, _ = files
    picture = str(folder / "a.png")
    assert main(["predict", picture, "--weights", path, "--image-size", "64"]) == 2
    message = capsys.readouterr().err
    assert (
        "an exported file (of 32x32 images and 5 classes)" in message and "leave out --image-size" in message
    )
    assert main(["predict", picture, "--weights", path, "--model", "t2t_vit_7"]) == 2
    assert "leave out --model" in capsys.readouterr().err
    for flag in (["--precision", "bfloat16"], ["--no-ema"]):
        assert main(["predict", picture, "--weights", path, *flag]) == 2
        message = capsys.readouterr().err
        assert "brings its own weights and precision: leave out --precision and --no-ema" in message
    assert main(["export", "--weights", path, "--output", str(folder / "out")]) == 2
    assert "which only `keras-t2t predict` runs" in capsys.readouterr().err
