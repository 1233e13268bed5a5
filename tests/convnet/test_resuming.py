"""Where a run stopped mid-epoch goes on (resuming.place_in_this_plan) when its epoch is made of
other minibatches now: after the images it had trained, or, on other data, from the epoch's start."""
import warnings
from types import SimpleNamespace

import pytest

from convnet.notes import Note
from convnet.resuming import place_in_this_plan
from convnet.session import DEFAULTS, Data


def options(**given):
    return {**DEFAULTS, "mini": 100, "seed": 7, **given}


def stopped(batch, **given):
    """A checkpoint that had trained `batch` minibatches of epoch 2 with these options."""
    return SimpleNamespace(path="r/latest.h5", epoch=2, batch=batch, options=options(**given))


def place(checkpoint, now, data=None):
    with pytest.warns(Note) as notes:
        k = place_in_this_plan(checkpoint, data or Data(now), now)
    return k, " ".join(str(n.message) for n in notes)


def test_a_smaller_training_range_than_the_images_trained_goes_on_with_its_last_minibatch():
    """3000 images of batches 1-2 trained; batch 1 alone is 20 minibatches of 100."""
    k, said = place(stopped(30, train_range="1-2"), options(train_range="1"))
    assert k == 19 and "(it had trained 3000 of the epoch's images): it goes on with minibatch 20 of 20" in said


def test_other_data_goes_on_from_the_epochs_start():
    k, said = place(stopped(7, train_range="1", image_size=36), options(train_range="1", image_size=32))
    assert k == 0
    assert said == ("r/latest.h5 stopped after minibatch 7 of epoch 2; with --image-size changed the epoch has "
                    "other minibatches (other data: from the epoch's start): it goes on with minibatch 1 of 20")


@pytest.mark.parametrize("batch", [0, 1, 2, 19])
def test_the_same_options_go_on_at_the_next_minibatch_without_a_note(batch):
    """A run resumed as it was (the common case: after a kill, or --save-freq 1) goes on right after the
    minibatches it had trained, the first one included, and says nothing about it."""
    checkpoint = stopped(batch, train_range="1")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        assert place_in_this_plan(checkpoint, Data(options(train_range="1")), options(train_range="1")) == batch


def test_an_epoch_of_fewer_minibatches_on_the_same_options_goes_on_with_its_last():
    """The data made again with fewer images: a checkpoint after minibatch 20 (or 25) of an epoch of
    20 goes on with minibatch 20, and says so."""
    for batch in (20, 25):
        k, said = place(stopped(batch, train_range="1"), options(train_range="1"))
        assert k == 19
        assert said == (f"r/latest.h5 stopped after minibatch {batch} of epoch 2, but the epoch has 20 now (its "
                        f"data was made again): it goes on with the last")


class UnequalBatches:
    """Batches of 1000, 500 and 250 images: the order of the batches changes where minibatches start."""
    sizes = {1: 1000, 2: 500, 3: 250}
    default_train_range = [1, 2, 3]

    def batch_size(self, number):
        return self.sizes[number]

    def parse_range(self, text, option):
        assert text == "1-3"
        return [1, 2, 3]


def images_in_order(plan):
    return [(number, int(i)) for number, indices, _ in plan for i in indices]


@pytest.mark.parametrize("augment, augmentation", [("paper", SimpleNamespace()),
                                                   ("2012", SimpleNamespace(ordered=True))])
def test_another_mini_goes_on_at_the_first_image_not_trained_in_the_order_training_used(augment, augmentation):
    """The paper's augmentation has no `ordered` (its batches and images are shuffled), --augment
    2012's keeps them as stored. Resumed with --mini 300 after 11 minibatches of 100, the run goes on
    at the minibatch of the new plan (as the TrainStream would draw it) that holds the first image
    the old plan had not reached, and every image before it is one the old plan had trained."""
    from convnet.data.loader import epoch_plan
    provider = UnequalBatches()
    old, now = options(train_range="1-3", augment=augment), options(train_range="1-3", augment=augment, mini=300)
    data = SimpleNamespace(provider=provider, train=[1, 2, 3], augmentation=augmentation)
    k, said = place(SimpleNamespace(path="r/latest.h5", epoch=2, batch=11, options=old), now, data)
    ordered = augment == "2012"
    trained = images_in_order(epoch_plan(provider, [1, 2, 3], 100, 7, 2, ordered)[:11])
    plan = epoch_plan(provider, [1, 2, 3], 300, 7, 2, ordered)
    before = images_in_order(plan[:k])
    assert set(before) <= set(trained) and trained[len(before):] == images_in_order([plan[k]])[:len(trained) - len(before)]
    assert len(trained) - len(before) < len(plan[k][1])        # minibatch k holds the next image too
    assert f"(it had trained {len(trained)} of the epoch's images): it goes on with minibatch {k + 1} of " \
           f"{len(plan)}" in said
    if ordered:                # 1000 + 100 images trained; batch 1 is 4 minibatches of 300 (the last of 100)
        assert k == 4 and len(plan) == 7
