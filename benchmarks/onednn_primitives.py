"""Which oneDNN implementation runs each primitive of a T2T-ViT step, and for how long.

    python benchmarks/onednn_primitives.py --model t2t_vit_7 --mode inference --precision mixed_bfloat16

One step, after warm-up, as `keras-t2t benchmark` builds it, under `ONEDNN_VERBOSE=1` in a child
process; the executed primitives summed by kind, implementation and source data type, then the
slowest calls with their shapes. The implementation says what the CPU's units do: on an AMX Xeon a
bfloat16 matmul on `brg_matmul:avx512_core_amx` (`avx10_1_512_amx` on newer Xeons) uses AMX's
tiles, one on `brg_matmul:avx512_core_bf16` does not. A Dense layer's fused matmul runs as an inner
product on oneDNN's gemm-based `x64:gemm:jit` while its weights are variables, and on the brgemm
kernels with pre-packed weights under `--frozen-weights` (`TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1`).
Times are oneDNN's own and add up to less than the step: TensorFlow's other kernels are not oneDNN
primitives, and two primitives may run at once.
"""

import argparse
import collections
import os
import re
import subprocess
import sys

START, END = "=====onednn-step-start", "=====onednn-step-end"


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from keras_t2t.benchmark import _model_step, _step_config

    config = _step_config(
        args.model,
        args.mode,
        args.precision,
        False,
        args.batch_size,
        args.image_size,
        3,
        1,
        None,
        args.frozen_weights,
    )
    step, _ = _model_step(config)
    for _ in range(3):
        step()
    print(START, flush=True)
    step()
    print(END, flush=True)


def executed_primitives(lines):
    """(kind, implementation, source dtype, problem, ms) of each `exec` line of oneDNN's verbose log."""
    for line in lines:
        fields = line.strip().split(",")
        if fields[0] != "onednn_verbose" or "exec" not in fields:
            continue
        at = fields.index("exec")
        source = re.search(r"src:(\w+)", fields[at + 5])
        yield fields[at + 2], fields[at + 3], source.group(1) if source else "", fields[-2], float(fields[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="t2t_vit_7")
    parser.add_argument("--mode", default="inference", choices=["inference", "training"])
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument(
        "--frozen-weights",
        action="store_true",
        help="inference with TF_ONEDNN_ASSUME_FROZEN_WEIGHTS=1 (weights pre-packed once)",
    )
    parser.add_argument("--slowest", type=int, default=10, help="how many of the slowest calls to list")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    result = subprocess.run(
        [sys.executable, __file__, "--child", *sys.argv[1:]],
        env={**os.environ, "ONEDNN_VERBOSE": "1"},
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(f"the measured step failed:\n{result.stderr[-3000:]}")
    log = result.stdout.split(START, 1)[-1].split(END, 1)[0].splitlines()
    calls = list(executed_primitives(log))
    if not calls:
        sys.exit("oneDNN printed no primitives: this TensorFlow build may not use oneDNN on this CPU.")
    totals = collections.defaultdict(lambda: [0, 0.0])
    for kind, implementation, dtype, _, ms in calls:
        totals[kind, implementation, dtype][0] += 1
        totals[kind, implementation, dtype][1] += ms
    print(f"{args.model} {args.mode}, {args.precision}, batch {args.batch_size}: one step's primitives")
    print("\n| primitive | implementation | source dtype | calls | ms |\n|---|---|---|---|---|")
    for (kind, implementation, dtype), (count, ms) in sorted(totals.items(), key=lambda item: -item[1][1]):
        print(f"| {kind} | {implementation} | {dtype} | {count} | {ms:.1f} |")
    print(f"\nthe {args.slowest} slowest calls\n")
    print("| primitive | implementation | source dtype | problem | ms |\n|---|---|---|---|---|")
    for kind, implementation, dtype, problem, ms in sorted(calls, key=lambda call: -call[-1])[: args.slowest]:
        print(f"| {kind} | {implementation} | {dtype} | {problem} | {ms:.2f} |")


if __name__ == "__main__":
    main()
