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


def place(checkpoint, now):
    with pytest.warns(Note) as notes:
        k = place_in_this_plan(checkpoint, Data(now), now)
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
