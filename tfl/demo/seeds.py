"""`Seeds`: the demos' seeding before each run, without clearing TensorFlow's kernel cache.

`keras.utils.set_random_seed` seeds Python, NumPy, Keras and TensorFlow. Its
`tf.random.set_seed` also clears TensorFlow's kernel cache, so every traced
function (a training step kept by `tfl.train.compiled_step`, a predict
function) is instantiated again on its next call: 5 of the 11 s of the first
call of MobileNetV3Small's training step at 32 px, measured in the image demo.
"""

import random

import keras
import numpy as np


class Seeds:
    """Seeds runs one after another in one process.

    `set(seed)` resets Python's and NumPy's generators every time (building a
    model draws its initial weights and dropout seeds from Python's), and
    calls `keras.utils.set_random_seed` only when the seed changes (the first
    time, and for a new draw), so runs with one seed keep their traces.
    """

    def __init__(self):
        self._tensorflow = None

    def set(self, seed):
        if seed != self._tensorflow:
            keras.utils.set_random_seed(seed)
            self._tensorflow = seed
        else:
            random.seed(seed)
            np.random.seed(seed)
