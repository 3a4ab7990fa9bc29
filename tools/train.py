#!/usr/bin/env python
"""Train any registered model: a thin wrapper over ``dpzoo train``.

python tools/train.py --model mlp --data digits --epochs 20
tensorboard --logdir runs
"""

import sys

from dpzoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
