"""Images/s of the PyTorch rendering of the official T2T-ViT that the parity tests compare against
(tests/convert/torch_reference.py), on this machine: the same-hardware baseline for
`keras-t2t benchmark`. Inference under `torch.inference_mode`, a training step with AdamW and
cross-entropy under the paper's regularisation, as keras_t2t's models train by default
(stochastic depth to 0.1, the performer T2T layers' dropout of 0.1); median of the timed steps
after warm-up, batch 16 at 224 by default; float32, or bfloat16 under
`torch.autocast("cpu", torch.bfloat16)` (weights and optimizer in float32, as under Keras'
mixed_bfloat16).

python benchmarks/pytorch_reference.py --models t2t_vit_14 --precisions float32 autocast_bfloat16
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from keras_t2t.benchmark import median_step_seconds  # noqa: E402
from keras_t2t.models import VARIANTS  # noqa: E402
from keras_t2t.training.recipe import Recipe  # noqa: E402
from tests.convert import torch_reference  # noqa: E402


def images_per_second(
    model_name: str, mode: str, precision: str, batch_size: int, image_size: int, warmup: int, steps: int
):
    # PyTorch's default initialisation: random test weights can overflow the performer's exp and
    # time the slow paths of inf and NaN arithmetic instead of the model.
    model = torch_reference.T2TViT(
        image_size=(image_size, image_size),
        drop_path_rate=Recipe().drop_path_rate,
        **VARIANTS[model_name].backbone_kwargs(),
    )
    images = torch.rand(batch_size, 3, image_size, image_size)
    labels = torch.randint(0, 1000, (batch_size,))
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=precision == "autocast_bfloat16")
    if mode == "inference":
        model.eval()

        def step():
            with torch.inference_mode(), autocast:
                model(images)

    else:
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)

        def step():
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = torch.nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()

    return batch_size / median_step_seconds(step, warmup, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["t2t_vit_7", "t2t_vit_14", "t2t_vit_t_14"])
    parser.add_argument("--modes", nargs="+", default=["inference", "training"])
    parser.add_argument(
        "--precisions", nargs="+", default=["float32"], choices=["float32", "autocast_bfloat16"]
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| model | mode | precision | batch | img/s |")
    print("|---|---|---|---|---|")
    for model_name in args.models:
        for mode in args.modes:
            for precision in args.precisions:
                rate = images_per_second(
                    model_name, mode, precision, args.batch_size, args.image_size, args.warmup, args.steps
                )
                print(f"| {model_name} | {mode} | {precision} | {args.batch_size} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
