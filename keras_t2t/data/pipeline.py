"""The training and evaluation `tf.data` pipelines, and the count of images skipped as corrupt."""

import functools

import keras
import tensorflow as tf

from keras_t2t.data import mixing, rand_augment, sources, transforms
from keras_t2t.data.augmentation import Augmentation
from keras_t2t.models.image_converter import check_crop_pct, eval_transform

AUTOTUNE = tf.data.AUTOTUNE
PAPER_AUGMENTATION = Augmentation()

CORRUPT_IMAGE_KINDS = ("train", "eval")


@functools.cache
def _corrupt_image_counters() -> dict[str, tf.Variable]:
    """Images dropped because they could not be read or decoded, per pipeline kind.

    Made on first use, not at import: importing keras_t2t must not start TensorFlow's runtime,
    because a MultiWorkerMirroredStrategy can only be created before it starts. Placed on the host,
    where tf.data runs, outside any strategy's scope.
    """
    with tf.device("/cpu:0"):
        return {
            kind: tf.Variable(0, dtype=tf.int64, trainable=False, name=f"corrupt_{kind}_images")
            for kind in CORRUPT_IMAGE_KINDS
        }


def corrupt_images(kind: str | None = None) -> int:
    """How many images the pipelines of this process have skipped as corrupt so far.

    Counted as images are processed, so prefetching can count a few ahead of the batches consumed.

    Args:
        kind: "train", "eval", or `None` for both.
    """
    counters = _corrupt_image_counters()
    kinds = CORRUPT_IMAGE_KINDS if kind is None else [kind]
    return sum(int(counters[k].numpy()) for k in kinds)


class CorruptImageReport(keras.callbacks.Callback):
    """Reports at each epoch end how many images were skipped as unreadable or undecodable.

    The counts cover every pipeline of the process (training and evaluation) since the callback
    was made or training began; an epoch's new skips are printed when there are any, and the
    running totals are kept in `self.history` (one `{"train": n, "eval": n}` per epoch).
    """

    def __init__(self):
        super().__init__()
        self.history: list[dict[str, int]] = []
        self._start = self._counts()

    @staticmethod
    def _counts() -> dict[str, int]:
        return {kind: corrupt_images(kind) for kind in CORRUPT_IMAGE_KINDS}

    def on_train_begin(self, logs=None):
        self._start = self._counts()

    def on_epoch_end(self, epoch, logs=None):
        counts = {kind: n - self._start[kind] for kind, n in self._counts().items()}
        previous = self.history[-1] if self.history else {kind: 0 for kind in counts}
        self.history.append(counts)
        new = {kind: counts[kind] - previous[kind] for kind in counts}
        if any(new.values()):
            print(
                f"Epoch {epoch + 1}: skipped {new['train']} training and {new['eval']} evaluation "
                f"images that could not be read or decoded (totals: {counts['train']} and "
                f"{counts['eval']})."
            )


def dataset_info(
    source: str, *, data_dir: str | None = None, manual_dir: str | None = None
) -> sources.DatasetInfo:
    """Class count, names, split sizes and split names of a data source (see `train_dataset`)."""
    return sources.open_source(source, data_dir, manual_dir).info


def train_dataset(
    source: str,
    *,
    image_size: tuple[int, int],
    batch_size: int,
    augmentation: Augmentation = PAPER_AUGMENTATION,
    seed: int = 42,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    split: str | None = None,
    input_context: tf.distribute.InputContext | None = None,
    skip_batches: int = 0,
    grayscale_to_rgb: bool = True,
) -> tf.data.Dataset:
    """The training pipeline: endless, shuffled, augmented, mixed batches.

    Per image: RandomResizedCrop (decoded and cropped in one step for JPEGs), resize to
    `image_size` with random bilinear/bicubic interpolation, horizontal flip, RandAugment, random
    erasing; per batch: Mixup or CutMix with label-smoothed targets (see `Augmentation`).

    Every random choice is a stateless function of `seed`, the input pipeline id and the image's
    position in the stream (the batch's index for mixing), and the order is deterministic, so
    the k-th batch is the same in every run and `skip_batches=k` starts exactly at it. Skipping
    reads and augments the skipped batches (a corrupt image anywhere before them shifts every
    later batch, so there is no cheaper exact way), then drops them.

    Args:
        source: "imagenet2012", another tfds image classification dataset name,
            "fashion_mnist_idx" (Debian's idx files, `data_dir` overriding their folder), or a
            folder holding `train/<class>/*` and `validation/<class>/*` (or val/test).
        image_size: `(H, W)` of the output images.
        batch_size: examples per batch. Under a distribution strategy this is the batch of ONE
            replica (`input_context.get_per_replica_batch_size(global_batch)`): each input
            pipeline makes per-replica batches from its own shard.
        augmentation: the transform's settings; the defaults are the paper's.
        seed: the seed of the shuffle and every augmentation.
        data_dir: tfds data folder (or the Fashion-MNIST folder).
        manual_dir: folder of the manual download (ImageNet's tar files), prepared once.
        split: the split to read; `None` is the dataset's training split.
        input_context: from `tf.distribute.Strategy.distribute_datasets_from_function`; the
            pipeline reads shard `input_pipeline_id` of `num_input_pipelines`.
        skip_batches: batches to skip at the start, to resume a run in the middle.
        grayscale_to_rgb: repeat the channel of grey datasets to give RGB.

    Returns:
        A dataset of `(images, targets)`: `(batch_size, H, W, 3)` float32 RGB 0..255 (1 channel
        for grey data with `grayscale_to_rgb=False`) and `(batch_size, classes)` float32 soft
        targets whose rows sum to 1.
    """
    _check_batch_size(batch_size)
    if skip_batches < 0:
        raise ValueError(f"`skip_batches` must be >= 0; received {skip_batches}.")
    data = sources.open_source(source, data_dir, manual_dir)
    pipeline_id, num_pipelines = _shard(input_context)
    channels = _output_channels(data, grayscale_to_rgb)
    size = tuple(image_size)
    key = tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), pipeline_id)
    image_key, batch_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))

    def transform(position, payload):
        seeds = tf.unstack(
            tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(image_key, position), 6
            )
        )
        image = _random_resized_crop(seeds[0], data.load(payload), augmentation, channels)
        image = transforms.resize_random_interpolation(seeds[1], image, size)
        if augmentation.horizontal_flip > 0:
            image = transforms.random_flip(seeds[2], image, augmentation.horizontal_flip)
        if augmentation.randaugment_num_ops > 0:
            image = rand_augment.rand_augment(
                seeds[3],
                image,
                augmentation.randaugment_num_ops,
                augmentation.randaugment_magnitude,
                augmentation.randaugment_magnitude_std,
            )
        if augmentation.random_erasing > 0:
            image = transforms.random_erasing(seeds[4], image, augmentation.random_erasing)
        return image

    def mix(index, batch):
        images, labels = batch
        return mixing.mix_batch(
            tf.random.experimental.stateless_fold_in(batch_key, index),
            images,
            labels,
            data.info.num_classes,
            mixup_alpha=augmentation.mixup_alpha,
            cutmix_alpha=augmentation.cutmix_alpha,
            mix_prob=augmentation.mix_prob,
            switch_prob=augmentation.switch_prob,
            label_smoothing=augmentation.label_smoothing,
        )

    dataset = data.read(split or data.info.train_split, shuffle_seed=seed, shard=(pipeline_id, num_pipelines))
    dataset = dataset.repeat().enumerate()
    dataset = _map_skipping_corrupt(dataset, transform, [*size, channels], "train")
    dataset = dataset.batch(batch_size, drop_remainder=True).enumerate().skip(skip_batches)
    dataset = dataset.map(mix, num_parallel_calls=AUTOTUNE)
    return _finish(dataset)


def eval_dataset(
    source: str,
    *,
    image_size: tuple[int, int],
    batch_size: int,
    crop_pct: float = 0.9,
    interpolation: str = "bicubic",
    data_dir: str | None = None,
    manual_dir: str | None = None,
    split: str | None = None,
    input_context: tf.distribute.InputContext | None = None,
    grayscale_to_rgb: bool = True,
    shuffle_seed: int | None = None,
) -> tf.data.Dataset:
    """The evaluation pipeline: one pass in file order, `eval_transform`, the last batch kept.

    Args: as `train_dataset`, plus `crop_pct` and `interpolation` of `eval_transform`; `split`
        `None` is the dataset's evaluation split; `shuffle_seed` reads the images in an order
        shuffled by it instead of file order.

    Returns:
        A dataset of `(images, labels)`: `(batch, H, W, 3)` float32 RGB 0..255 and `(batch,)` int32.
    """
    _check_batch_size(batch_size)
    check_crop_pct(crop_pct)
    data = sources.open_source(source, data_dir, manual_dir)
    channels = _output_channels(data, grayscale_to_rgb)
    size = tuple(image_size)

    def transform(position, payload):
        image = _to_channels(_decode(data.load(payload), channels), channels)
        return eval_transform(image, size, crop_pct, interpolation)

    dataset = data.read(split or data.info.eval_split, shuffle_seed=shuffle_seed, shard=_shard(input_context))
    dataset = _map_skipping_corrupt(dataset.enumerate(), transform, [*size, channels], "eval")
    dataset = dataset.map(lambda image, label: (image, tf.cast(label, tf.int32)))
    return _finish(dataset.batch(batch_size))


def calibration_dataset(
    source: str,
    *,
    image_size: tuple[int, int],
    batch_size: int = 16,
    steps: int = 16,
    crop_pct: float = 0.9,
    interpolation: str = "bicubic",
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int = 0,
    grayscale_to_rgb: bool = True,
) -> tf.data.Dataset:
    """Sample images for post-training quantization (`keras_t2t.export.artifact` in "int8"):
    `steps` batches of the training split, drawn in an order shuffled by `seed` (so that every
    class is in the sample), through `eval_transform`, as the model sees images at inference.

    Args: as `eval_dataset`.

    Returns:
        A dataset of `(batch, H, W, 3)` float32 RGB 0..255 image batches; fewer than `steps`
        when the split has fewer images.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer; received steps={steps!r}.")
    train_split = sources.open_source(source, data_dir, manual_dir).info.train_split
    dataset = eval_dataset(
        source,
        image_size=image_size,
        batch_size=batch_size,
        crop_pct=crop_pct,
        interpolation=interpolation,
        data_dir=data_dir,
        manual_dir=manual_dir,
        split=train_split,
        grayscale_to_rgb=grayscale_to_rgb,
        shuffle_seed=seed,
    )
    return dataset.take(steps).map(lambda images, labels: images)


def _map_skipping_corrupt(dataset, transform, image_shape, kind: str) -> tf.data.Dataset:
    """Maps `(position, (payload, label))` to `(transform(position, payload), label)` in parallel
    and in order, dropping (and counting in `_corrupt_image_counters()[kind]`) the elements whose
    transform fails.

    `Dataset.ignore_errors` alone would drop them silently. Each element is run through a
    one-element dataset with `ignore_errors`, followed by a stand-in flagged as failed: taking the
    first element gives the result, or the flagged stand-in when the transform raised.
    """
    counter = _corrupt_image_counters()[kind]

    def guarded(position, example):
        payload, label = example
        result = (
            tf.data.Dataset.from_tensors((position, payload, label))
            .map(lambda p, x, y: (transform(p, x), y, True))
            .ignore_errors()
        )
        stand_in = tf.data.Dataset.from_tensors((tf.zeros(image_shape), label, False))
        return result.concatenate(stand_in).take(1)

    def keep(image, label, ok):
        with tf.control_dependencies([counter.assign_add(tf.cast(tf.logical_not(ok), tf.int64))]):
            return tf.identity(ok)

    dataset = dataset.interleave(guarded, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.filter(keep).map(lambda image, label, ok: (image, label))


def _random_resized_crop(seed, image, augmentation: Augmentation, channels: int) -> tf.Tensor:
    """The RandomResizedCrop window of an encoded or decoded image, as uint8 `(h, w, channels)`."""

    def crop_box(shape):
        scale, ratio = augmentation.crop_scale, augmentation.crop_ratio
        return transforms.random_resized_crop_box(seed, shape, scale, ratio)

    def crop_decoded(decoded):
        top, left, height, width = tf.unstack(crop_box(tf.shape(decoded)))
        return decoded[top : top + height, left : left + width]

    if image.dtype != tf.string:
        return _to_channels(crop_decoded(image), channels)
    # A JPEG decoded only inside the window decodes even when truncated below it: only a complete
    # file (ending with the end-of-image marker) takes that path; others are decoded whole, which
    # fails for a truncated file (and reads one with bytes after the marker).
    complete_jpeg = tf.io.is_jpeg(image) & tf.equal(tf.strings.substr(image, -2, 2), b"\xff\xd9")
    return tf.cond(
        complete_jpeg,
        lambda: tf.image.decode_and_crop_jpeg(image, crop_box(tf.image.extract_jpeg_shape(image)), channels),
        lambda: crop_decoded(_decode(image, channels)),
    )


def _decode(image: tf.Tensor, channels: int) -> tf.Tensor:
    """Encoded bytes (any format `tf.io.decode_image` reads) -> uint8 `(h, w, channels)`;
    decoded images pass through."""
    if image.dtype != tf.string:
        return image
    decoded = tf.io.decode_image(image, channels=channels, dtype=tf.uint8, expand_animations=False)
    return tf.ensure_shape(decoded, [None, None, channels])


def _to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    if image.shape[-1] == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    return image


def _output_channels(data: sources.Source, grayscale_to_rgb: bool) -> int:
    return 3 if grayscale_to_rgb or data.channels == 3 else 1


def _shard(input_context: tf.distribute.InputContext | None) -> tuple[int, int]:
    if input_context is None:
        return 0, 1
    return input_context.input_pipeline_id, input_context.num_input_pipelines


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; received {batch_size!r}.")


def _finish(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.deterministic = True
    return dataset.prefetch(AUTOTUNE).with_options(options)
