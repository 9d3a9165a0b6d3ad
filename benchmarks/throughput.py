"""Throughput table of T2T-ViT inference and training steps; the same as `keras-t2t benchmark`.

python benchmarks/throughput.py --models t2t_vit_14 --precisions float32 --jit off on
"""

import sys

from keras_t2t.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
