import io
import os
import re

import keras
import numpy as np
import PIL.Image
import pytest
import tensorflow as tf

import keras_t2t
from keras_t2t import cli
from keras_t2t.benchmark import FROZEN_WEIGHTS_VARIABLE
from keras_t2t.cli import main
from keras_t2t.data import eval_transform
from tests.export.conftest import CLASS_NAMES, encode, random_image, small_classifier


@pytest.fixture(scope="module")
def files(tiny_t2t, tmp_path_factory):
    """The tiny T2T-ViT as a .keras file, a class-names file and two pictures."""
    folder = tmp_path_factory.mktemp("cli")
    tiny_t2t.save(folder / "tiny.keras")
    (folder / "names.txt").write_text("\n".join(CLASS_NAMES) + "\n")
    pictures = [random_image(40, 60, seed=1), random_image(90, 45, seed=2)]
    (folder / "a.png").write_bytes(encode(pictures[0], "png"))
    (folder / "b.jpg").write_bytes(encode(pictures[1], "jpeg"))
    return folder


def _probabilities(model, paths) -> np.ndarray:
    decoded = [tf.io.decode_image(tf.io.read_file(str(path)), channels=3) for path in paths]
    return np.asarray(model(np.stack([eval_transform(image, (32, 32)) for image in decoded])))


def test_export_writes_a_version_tf_serving_can_load(tiny_t2t, files, capsys):
    output = files / "serving"
    argv = ["export", "--weights", str(files / "tiny.keras"), "--output", str(output)]
    assert main(argv + ["--top-k", "2", "--class-names", str(files / "names.txt")]) == 0
    stdout = capsys.readouterr().out
    assert f"wrote:        {output / '1'}" in stdout
    assert "weights:      the model weights" in stdout
    assert os.path.isfile(output / "1" / "assets.extra" / "tf_serving_warmup_requests")
    signature = tf.saved_model.load(str(output / "1")).signatures["serving_bytes"]
    paths = [files / "a.png", files / "b.jpg"]
    outputs = signature(image_bytes=tf.stack([tf.io.read_file(str(p)) for p in paths]))
    expected = _probabilities(tiny_t2t, paths)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    best = np.argsort(-expected, axis=1)[:, :2]
    np.testing.assert_array_equal(
        outputs["top_k_class_names"].numpy().astype(str), np.array(CLASS_NAMES)[best]
    )


def test_export_flags_reach_the_export(tmp_path, capsys):
    model = small_classifier()
    model.save(tmp_path / "small.keras")
    argv = ["export", "--weights", str(tmp_path / "small.keras"), "--output", str(tmp_path / "out")]
    flags = ["--version", "4", "--no-warmup", "--crop-pct", "0.5", "--interpolation", "bilinear"]
    assert main(argv + flags) == 0
    assert os.listdir(tmp_path / "out" / "4") and not os.path.exists(tmp_path / "out/4/assets.extra")
    picture = np.random.default_rng(3).integers(0, 256, (30, 20, 3)).astype(np.uint8)
    signature = tf.saved_model.load(str(tmp_path / "out" / "4")).signatures["serving_bytes"]
    outputs = signature(image_bytes=tf.constant([encode(picture, "png")]))
    transformed = eval_transform(picture, (16, 16), crop_pct=0.5, interpolation="bilinear")
    expected = np.asarray(model(keras_t2t.preprocess_input(transformed[None])))
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    default = np.asarray(model(keras_t2t.preprocess_input(eval_transform(picture, (16, 16))[None])))
    assert np.abs(default - expected).max() > 1e-4
    assert main(argv + ["--version", "4"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained_with_ema(tmp_path_factory):
    """A small classifier trained with EMA and saved as a checkpoint saved mid-training holds it:
    raw weights, the averages in the optimizer. Returns the file, test images (RGB 0..255) and
    the outputs of the averages in float32, bfloat16 and dynamic int8 and of the raw weights in float32."""
    model = small_classifier()
    model.compile(keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "categorical_crossentropy")
    rng = np.random.default_rng(0)
    # Whole numbers, so that PNG files hold them exactly.
    images = rng.integers(0, 256, (8, 16, 16, 3)).astype(np.float32)
    # The small model has no normalisation layer, so the export puts ImageNet's in front of it.
    x = np.asarray(keras_t2t.preprocess_input(images))
    model.fit(x, np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)], batch_size=4, epochs=2, verbose=0)
    ema_outputs = np.asarray(model(x))
    ema_bfloat16_outputs = keras_t2t.with_dtype(model, "bfloat16").predict_on_batch(x)
    ema_int8_outputs = keras_t2t.export.in_precision(model, "dynamic_int8").predict_on_batch(x)
    for variable in model.trainable_variables:
        variable.assign(variable * 1.5 + 0.1)
    own_outputs = np.asarray(model(x))
    path = tmp_path_factory.mktemp("ema") / "trained.keras"
    model.save(path)
    outputs = {"ema": ema_outputs, "ema_bfloat16": ema_bfloat16_outputs, "ema_dynamic_int8": ema_int8_outputs}
    return path, images, {**outputs, "own": own_outputs}


def test_export_takes_the_ema_weights_of_a_model_trained_with_ema(trained_with_ema, tmp_path, capsys):
    path, images, outputs = trained_with_ema
    argv = ["export", "--weights", str(path), "--output", str(tmp_path / "out")]
    for flags, expected, weights in [([], "ema", "EMA averages"), (["--no-ema"], "own", "model")]:
        assert main(argv + flags + ["--no-warmup"]) == 0
        stdout = capsys.readouterr().out
        assert weights in stdout
        version = stdout.split("wrote:")[1].split()[0]
        signature = tf.saved_model.load(version).signatures["serving_default"]
        served = signature(images=tf.constant(images))
        np.testing.assert_allclose(served["probabilities"], outputs[expected], atol=1e-5)


def test_predict_runs_the_weights_and_precision_it_is_given(trained_with_ema, tmp_path, capsys):
    path, images, outputs = trained_with_ema
    pictures = []
    for i, image in enumerate(images[:3]):
        pictures.append(str(tmp_path / f"{i}.png"))
        (tmp_path / f"{i}.png").write_bytes(encode(image.astype(np.uint8), "png"))
    # At the model's own size and without a crop, the evaluation transform keeps the pixels.
    np.testing.assert_array_equal(eval_transform(images[0], (16, 16), crop_pct=1.0), images[0])
    argv = ["predict", *pictures, "--weights", str(path), "--top", "4", "--crop-pct", "1.0"]
    for precision in ("ema_bfloat16", "ema_dynamic_int8"):
        assert np.abs(outputs[precision] - outputs["ema"]).max() > 1e-3, precision
    for flags, expected in [
        ([], "ema"),
        (["--no-ema"], "own"),
        (["--precision", "bfloat16"], "ema_bfloat16"),
        (["--precision", "dynamic_int8"], "ema_dynamic_int8"),
    ]:
        assert main(argv + flags) == 0
        printed = _printed_probabilities(capsys.readouterr().out, len(pictures), classes=4)
        np.testing.assert_allclose(printed, outputs[expected][:3], atol=6e-5, err_msg=str(flags))


def test_bfloat16_inference_assumes_frozen_weights_unless_the_user_chose(tiny_t2t, monkeypatch):
    # The model that `predict` and `evaluate` run is made without running a kernel, so this process
    # reads nothing of the setting here; monkeypatch puts the process's own value back.
    def setting_after(precision: str, user_setting: str | None) -> str | None:
        if user_setting is None:
            monkeypatch.delenv(FROZEN_WEIGHTS_VARIABLE)
        else:
            monkeypatch.setenv(FROZEN_WEIGHTS_VARIABLE, user_setting)
        copy = cli._inference_model(tiny_t2t, precision)
        assert copy.dtype_policy.name == ("bfloat16" if precision == "bfloat16" else "float32")
        return os.environ.get(FROZEN_WEIGHTS_VARIABLE)

    assert setting_after("bfloat16", None) == "1"
    assert setting_after("bfloat16", "0") == "0"
    assert setting_after("float32", None) is None


def _printed_probabilities(stdout: str, files: int, classes: int) -> np.ndarray:
    """`keras-t2t predict`'s lines, `  0.1234  <class id>` under each file, as `(files, classes)`."""
    rows = np.zeros((files, classes))
    lines = iter(stdout.splitlines())
    for row in rows:
        next(lines)  # the file's name
        for _ in range(classes):
            probability, class_id = next(lines).split()
            row[int(class_id)] = float(probability)
    return rows


def test_predict_prints_names_and_probabilities(tiny_t2t, files, capsys):
    paths = [str(files / "a.png"), str(files / "b.jpg")]
    argv = ["predict", *paths, "--weights", str(files / "tiny.keras")]
    assert main(argv + ["--top", "3", "--class-names", str(files / "names.txt")]) == 0
    expected = _probabilities(tiny_t2t, paths)
    lines = []
    for path, row in zip(paths, expected, strict=True):
        lines.append(path)
        lines += [f"  {row[i]:.4f}  {CLASS_NAMES[i]}" for i in np.argsort(-row)[:3]]
    assert capsys.readouterr().out.splitlines() == lines

    assert main(argv + ["--top", "1", "--crop-pct", "0.5", "--interpolation", "area"]) == 0
    decoded = [tf.io.decode_image(tf.io.read_file(path), channels=3) for path in paths]
    transformed = [eval_transform(image, (32, 32), crop_pct=0.5, interpolation="area") for image in decoded]
    expected = np.asarray(tiny_t2t(np.stack(transformed)))
    lines = []
    for path, row in zip(paths, expected, strict=True):
        lines += [path, f"  {row.max():.4f}  {row.argmax()}"]
    assert capsys.readouterr().out.splitlines() == lines


def test_predict_with_keras_weights_and_imagenet_names(files, capsys):
    model = keras_t2t.create_model("t2t_vit_7", input_shape=(32, 32, 3))
    model.save_weights(files / "t2t_vit_7.weights.h5")
    path = str(files / "a.png")
    argv = ["predict", path, "--model", "t2t_vit_7", "--image-size", "32", "--top", "2"]
    assert main(argv + ["--weights", str(files / "t2t_vit_7.weights.h5")]) == 0
    decoded = keras_t2t.decode_predictions(_probabilities(model, [path]), top=2)[0]
    expected = [path] + [f"  {score:.4f}  {name}" for _, name, score in decoded]
    assert capsys.readouterr().out.splitlines() == expected


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "{folder}/a.png", "--weights", "{folder}/x.weights.h5"], "--model is needed"),
        (
            ["predict", "{folder}/a.png", "--weights", "{folder}/tiny.keras", "--classes", "5"],
            "leave out --classes",
        ),
        (
            ["predict", "{folder}/a.png", "--weights", "{folder}/tiny.keras", "--model", "t2t_vit_14"],
            "holds the model 't2t_vit_7', not 't2t_vit_14'",
        ),
        (["export", "--weights", "{folder}/tiny.keras", "--output", "{folder}/o", "--top-k", "9"], "top_k"),
    ],
)
def test_mistakes_are_explained(files, capsys, argv, message):
    assert main([arg.format(folder=files) for arg in argv]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_predict_defaults_work_for_a_model_with_fewer_than_five_classes(tmp_path, capsys):
    model = small_classifier(classes=3)
    model.save(tmp_path / "three.keras")
    picture = random_image(30, 20)
    (tmp_path / "a.png").write_bytes(encode(picture, "png"))
    assert main(["predict", str(tmp_path / "a.png"), "--weights", str(tmp_path / "three.keras")]) == 0
    [row] = np.asarray(model(keras_t2t.preprocess_input(eval_transform(picture, (16, 16))[None])))
    expected = [str(tmp_path / "a.png")] + [f"  {row[i]:.4f}  {i}" for i in np.argsort(-row)]
    assert capsys.readouterr().out.splitlines() == expected


def _pil_encode(image: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.fromarray(image).save(
        buffer, image_format, **({"lossless": True} if image_format == "WEBP" else {})
    )
    return buffer.getvalue()


def test_predict_classifies_every_readable_file_and_names_the_others(tiny_t2t, files, tmp_path, capsys):
    picture = random_image(50, 40, seed=3)
    good = {}
    for image_format in ("BMP", "GIF", "WEBP"):
        good[image_format] = tmp_path / f"picture.{image_format.lower()}"
        good[image_format].write_bytes(_pil_encode(picture, image_format))
    (tmp_path / "text.jpg").write_text("not an image")
    paths = [good["BMP"], tmp_path / "text.jpg", good["GIF"], tmp_path / "missing.png", good["WEBP"]]
    argv = ["predict", *map(str, paths), "--weights", str(files / "tiny.keras"), "--top", "2"]
    assert main(argv + ["--class-names", str(files / "names.txt")]) == 1
    captured = capsys.readouterr()

    lines = []
    for path in (good["BMP"], good["GIF"], good["WEBP"]):
        # Decoded by Pillow, independently of TensorFlow's decoders.
        decoded = np.asarray(PIL.Image.open(path).convert("RGB"))
        [row] = np.asarray(tiny_t2t(eval_transform(decoded, (32, 32))[None]))
        lines += [str(path)] + [f"  {row[i]:.4f}  {CLASS_NAMES[i]}" for i in np.argsort(-row)[:2]]
    assert captured.out.splitlines() == lines
    errors = captured.err.splitlines()
    assert len(errors) == 3
    assert re.search(r"cannot classify .*text\.jpg: Unknown image file format", errors[0])
    assert re.search(r"cannot classify .*missing\.png: cannot read it \(No such file", errors[1])
    assert errors[2] == "keras-t2t predict: 2 of 5 files could not be classified"


def test_a_corrupt_keras_file_is_named_as_such(files, tmp_path, capsys):
    whole = (files / "tiny.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.keras").write_text("not a zip")
    for name in ("truncated.keras", "text.keras"):
        path = str(tmp_path / name)
        assert main(["predict", str(files / "a.png"), "--weights", path]) == 2
        error = capsys.readouterr().err
        assert f"'{path}' exists but is not a readable .keras archive: it is truncated or not a zip" in error
        with pytest.raises(ValueError, match="exists but is not a readable .keras archive"):
            keras_t2t.create_model("t2t_vit_7", weights=path)
    assert main(["predict", str(files / "a.png"), "--weights", str(tmp_path / "none.keras")]) == 2
    assert "Model file not found" in capsys.readouterr().err


def test_export_precision_flag(files, capsys):
    output = files / "serving_bf16"
    argv = ["export", "--weights", str(files / "tiny.keras"), "--output", str(output), "--no-warmup"]
    assert main(argv + ["--precision", "bfloat16"]) == 0
    assert "the model weights, bfloat16" in capsys.readouterr().out
    reader = tf.train.load_checkpoint(str(output / "1" / "variables" / "variables"))
    assert tf.bfloat16 in set(reader.get_variable_to_dtype_map().values())
