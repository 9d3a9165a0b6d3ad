import keras
import numpy as np
import tensorflow as tf

from keras_t2t.training import (
    EmaModelCheckpoint,
    EmaValidation,
    LearningRateLogger,
    compile_classifier,
    ema_weights,
)


def classifier() -> keras.Model:
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(inputs)
    return keras.Model(inputs, outputs)


def datasets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(32) % 3]
    train = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
    return train, tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def test_validation_and_best_checkpoint_use_the_ema_weights(tmp_path):
    model = classifier()
    schedule = keras.optimizers.schedules.PolynomialDecay(0.5, decay_steps=8, end_learning_rate=0.1)
    compile_classifier(model, keras.optimizers.SGD(schedule, use_ema=True, ema_momentum=0.5))
    train, validation = datasets()
    path = str(tmp_path / "best.keras")
    seen = {}

    class Expected(keras.callbacks.Callback):
        """Runs after the callbacks under test: what they should have seen at this epoch end."""

        def on_epoch_end(self, epoch, logs=None):
            with ema_weights(self.model):
                seen[epoch] = {
                    "ema": [w.numpy() for w in self.model.weights],
                    "results": self.model.evaluate(validation, verbose=0, return_dict=True),
                }
            seen[epoch]["logs"] = dict(logs)
            seen[epoch]["raw"] = [w.numpy() for w in self.model.weights]
            seen[epoch]["lr"] = float(schedule(int(self.model.optimizer.iterations)))

    callbacks = [
        LearningRateLogger(),
        EmaValidation(validation),
        EmaModelCheckpoint(path, monitor="val_top1", mode="max", save_best_only=True),
        Expected(),
    ]
    model.fit(train, epochs=2, steps_per_epoch=4, callbacks=callbacks, shuffle=False, verbose=0)

    for epoch in (0, 1):
        logs, results = seen[epoch]["logs"], seen[epoch]["results"]
        for name in ("loss", "top1", "top5"):
            assert logs[f"val_{name}"] == results[name]
        assert logs["learning_rate"] == seen[epoch]["lr"]
        assert (
            np.abs(seen[epoch]["ema"][0] - seen[epoch]["raw"][0]).max() > 1e-4
        )  # the EMA is not the weights
    best = max((0, 1), key=lambda epoch: seen[epoch]["logs"]["val_top1"])  # the first of equals
    saved = keras.saving.load_model(path)
    for weight, expected in zip(saved.weights, seen[best]["ema"], strict=True):
        np.testing.assert_array_equal(weight.numpy(), expected)
