import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_t2t.imagenet_classes import decode_predictions, imagenet_class_names, imagenet_wnids


def test_wnids_match_the_tfds_imagenet2012_label_order():
    labels_file = os.path.join(os.path.dirname(tfds.__file__), "datasets/imagenet2012/labels.txt")
    with open(labels_file) as f:
        assert imagenet_wnids() == f.read().split()


def test_class_names_are_the_well_known_ones():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert all(names)
    assert names[0] == "tench"
    assert names[1] == "goldfish"
    assert names[207] == "golden retriever"
    assert names[999] == "toilet tissue"


def test_decode_predictions_orders_by_score():
    preds = np.zeros((2, 1000), np.float32)
    preds[0, [3, 1, 207]] = [0.2, 0.5, 0.3]
    preds[1, 999] = 1.0
    decoded = decode_predictions(preds, top=3)
    assert decoded[0] == [
        ("n01443537", "goldfish", pytest.approx(0.5)),
        ("n02099601", "golden retriever", pytest.approx(0.3)),
        ("n01491361", "tiger shark", pytest.approx(0.2)),
    ]
    assert decoded[1][0] == ("n15075141", "toilet tissue", 1.0)
    assert [len(d) for d in decoded] == [3, 3]


@pytest.mark.parametrize("shape", [(1000,), (2, 10), (1, 1000, 1)])
def test_decode_predictions_rejects_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        decode_predictions(np.zeros(shape))


def test_decode_predictions_rejects_bad_top():
    with pytest.raises(ValueError, match="top"):
        decode_predictions(np.zeros((1, 1000)), top=0)
