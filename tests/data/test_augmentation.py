import dataclasses

from keras_t2t.data import Augmentation


def test_flip_only_turns_off_everything_but_the_flip_and_takes_overrides():
    plain = Augmentation.flip_only()
    changed = {
        field.name
        for field in dataclasses.fields(Augmentation)
        if getattr(plain, field.name) != getattr(Augmentation(), field.name)
    }
    assert changed == {
        "crop_scale",
        "crop_ratio",
        "randaugment_num_ops",
        "random_erasing",
        "mixup_alpha",
        "cutmix_alpha",
        "label_smoothing",
    }
    assert (plain.crop_scale, plain.crop_ratio, plain.label_smoothing) == ((1.0, 1.0), (1.0, 1.0), 0.0)
    assert plain.horizontal_flip == 0.5
    assert Augmentation.flip_only(horizontal_flip=0.0).horizontal_flip == 0.0
