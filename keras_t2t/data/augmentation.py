"""The training transform's settings."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The paper's training transform as data; the defaults are the paper's recipe.

    Attributes:
        crop_scale: RandomResizedCrop's range of the crop area, as a fraction of the image.
        crop_ratio: RandomResizedCrop's range of the crop aspect ratio (width / height).
        horizontal_flip: probability of a left-right flip.
        randaugment_num_ops: RandAugment operations per image; 0 turns RandAugment off.
        randaugment_magnitude: RandAugment's mean magnitude, 0..10.
        randaugment_magnitude_std: deviation of the per-operation magnitude noise.
        random_erasing: probability of erasing one box with random pixels; 0 turns it off.
        mixup_alpha: Mixup's Beta(alpha, alpha) parameter; 0 turns Mixup off.
        cutmix_alpha: CutMix's Beta(alpha, alpha) parameter; 0 turns CutMix off.
        mix_prob: probability that a batch is mixed at all.
        switch_prob: probability of CutMix rather than Mixup, when both are on.
        label_smoothing: label smoothing of the targets, before mixing.
    """

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    horizontal_flip: float = 0.5
    randaugment_num_ops: int = 2
    randaugment_magnitude: float = 9.0
    randaugment_magnitude_std: float = 0.5
    random_erasing: float = 0.25
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    mix_prob: float = 1.0
    switch_prob: float = 0.5
    label_smoothing: float = 0.1

    @classmethod
    def flip_only(cls, **overrides) -> "Augmentation":
        """Whole images, flipped at random: no crops, RandAugment, erasing, mixing or smoothing.
        `overrides` set other fields on top, e.g. `horizontal_flip=0.0` for none at all."""
        plain = dict(
            crop_scale=(1.0, 1.0),
            crop_ratio=(1.0, 1.0),
            randaugment_num_ops=0,
            random_erasing=0.0,
            mixup_alpha=0.0,
            cutmix_alpha=0.0,
            label_smoothing=0.0,
        )
        return cls(**(plain | overrides))

    def __post_init__(self):
        for name in ("crop_scale", "crop_ratio"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"`{name}` must be a range (low, high), 0 < low <= high; got {(low, high)}.")
        if self.crop_scale[1] > 1:
            raise ValueError(f"`crop_scale` is a fraction of the image area, <= 1; got {self.crop_scale}.")
        for name in ("horizontal_flip", "random_erasing", "mix_prob", "switch_prob", "label_smoothing"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"`{name}` is a probability, in [0, 1]; got {getattr(self, name)}.")
        for name in ("randaugment_magnitude_std", "mixup_alpha", "cutmix_alpha"):
            if getattr(self, name) < 0:
                raise ValueError(f"`{name}` must be >= 0; got {getattr(self, name)}.")
        if not 0 <= self.randaugment_magnitude <= 10:
            raise ValueError(f"`randaugment_magnitude` must be in [0, 10]; got {self.randaugment_magnitude}.")
        if self.randaugment_num_ops < 0:
            raise ValueError(f"`randaugment_num_ops` must be >= 0; got {self.randaugment_num_ops}.")
