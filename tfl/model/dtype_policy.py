"""`dtype_policy`: build layers under a Keras mixed-precision policy, then restore the old one."""

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy(name):
    """Builds layers under the Keras dtype policy `name` (None: unchanged),
    then restores the previous global policy.

    Examples:

    >>> with dtype_policy("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.dtype_policy.name
    'mixed_bfloat16'
    """
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
