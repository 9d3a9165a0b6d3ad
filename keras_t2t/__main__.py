"""`python -m keras_t2t`: the `keras-t2t` command (see `keras_t2t_cli`; the package's own import
comes first here, so TensorFlow's import notices are not held back as they are by `keras-t2t`)."""

import sys

from keras_t2t_cli import main

if __name__ == "__main__":
    sys.exit(main())
