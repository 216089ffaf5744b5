import tensorflow as tf

from tfl.data.order import next_pass
from tfl.data.order import set_epoch
from tfl.data.order import shuffle_each_epoch


def _order(dataset):
    return [int(x) for x in dataset.as_numpy_iterator()]


def test_an_epoch_has_the_same_order_whatever_passes_ran_before():
    dataset = shuffle_each_epoch(tf.data.Dataset.range(32), 32, seed=7)
    set_epoch(4)
    fourth = _order(dataset)
    for _ in range(3):  # an LR finder, a BatchNorm check, ... iterate the data
        _order(dataset)
    set_epoch(4)
    assert _order(dataset) == fourth
    assert sorted(fourth) == list(range(32))


def test_without_set_epoch_each_pass_has_a_new_order_and_advances_the_counter():
    dataset = shuffle_each_epoch(tf.data.Dataset.range(32), 32, seed=7)
    set_epoch(0)
    orders = [_order(dataset) for _ in range(3)]
    assert next_pass() == 3
    assert len({tuple(order) for order in orders}) == 3
    set_epoch(1)
    assert _order(dataset) == orders[1]


def test_the_seed_changes_the_order_and_the_cardinality_is_kept():
    base = tf.data.Dataset.range(32)
    set_epoch(0)
    first = _order(shuffle_each_epoch(base, 32, seed=1))
    set_epoch(0)
    assert _order(shuffle_each_epoch(base, 32, seed=2)) != first
    assert int(shuffle_each_epoch(base.batch(5), 7, seed=1).cardinality()) == 7


def test_the_order_does_not_depend_on_the_global_seed_even_zero():
    base = tf.data.Dataset.range(32)
    orders = []
    for global_seed in (0, 5):
        tf.random.set_seed(global_seed)
        set_epoch(2)
        orders.append(_order(shuffle_each_epoch(base, 32, seed=1)))
    assert orders[0] == orders[1]
