"""Augmentation: crops, reflections, the ten views and the colour noise, against direct computations."""
import numpy as np
import pytest

from convnet.data import get_provider
from convnet.data.augment import Augmentation

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (3, 12, 12, 40)).astype(np.uint8)
MEAN = RNG.uniform(0, 255, (3, 12, 12)).astype(np.float32)


def test_training_crops_are_windows_of_the_mean_subtracted_image_or_their_mirrors():
    aug = Augmentation(MEAN, crop=8)
    out = aug.train(IMAGES, np.random.default_rng(1))
    assert out.shape == (3, 8, 8, 40) and out.dtype == np.float32
    centred = IMAGES.astype(np.float32) - MEAN[..., None]
    flips = 0
    for n in range(40):
        matches = [(y, x, f) for y in range(5) for x in range(5) for f in (False, True)
                   if np.array_equal(out[..., n], (lambda w: w[:, :, ::-1] if f else w)(centred[:, y:y + 8, x:x + 8, n]))]
        assert matches, f"image {n} is no crop"
        flips += matches[0][2]
    assert 8 <= flips <= 32          # about half reflected


def test_same_generator_same_crops():
    aug = Augmentation(MEAN, crop=8)
    np.testing.assert_array_equal(aug.train(IMAGES, np.random.default_rng(5)), aug.train(IMAGES, np.random.default_rng(5)))


def test_centre_crop_and_the_ten_views():
    aug = Augmentation(MEAN, crop=8)
    centred = IMAGES.astype(np.float32) - MEAN[..., None]
    np.testing.assert_array_equal(aug.test(IMAGES), centred[:, 2:10, 2:10])
    views = aug.views(IMAGES)
    assert len(views) == 10
    for view, (y, x) in zip(views[:5], [(0, 0), (0, 4), (2, 2), (4, 0), (4, 4)]):
        np.testing.assert_array_equal(view, centred[:, y:y + 8, x:x + 8])
    for plain, mirrored in zip(views[:5], views[5:]):
        np.testing.assert_array_equal(mirrored, plain[:, :, ::-1])


def test_an_odd_border_puts_the_centre_crop_where_the_centre_view_is():
    """12 - 7 = 5 pixels to spare: the centre crop starts at row and column 2 (the border halved, rounded
    down), and the single-view test and the ten-view test's centre view are the same crop."""
    aug = Augmentation(MEAN, crop=7)
    centred = IMAGES.astype(np.float32) - MEAN[..., None]
    np.testing.assert_array_equal(aug.test(IMAGES), centred[:, 2:9, 2:9])
    np.testing.assert_array_equal(aug.views(IMAGES)[2], aug.test(IMAGES))


def test_colour_noise_is_one_shift_per_image_with_the_principal_components_covariance():
    stdevs = np.array([30.0, 8.0, 2.0], dtype=np.float32)
    vectors = np.linalg.qr(RNG.standard_normal((3, 3)))[0].astype(np.float32)
    aug = Augmentation(np.zeros((3, 4, 4), np.float32), color_noise=0.1, pca=(stdevs, vectors))
    images = np.zeros((3, 4, 4, 20000), dtype=np.uint8)
    shift = aug.train(images, np.random.default_rng(3))
    assert np.allclose(shift, shift[:, :1, :1])                  # the same shift at every pixel
    delta = shift[:, 0, 0].astype(np.float64)
    expected = vectors @ np.diag((0.1 * stdevs) ** 2) @ vectors.T
    np.testing.assert_allclose(np.cov(delta), expected, atol=0.03 * expected.max())


def test_provider_colour_pca_matches_a_direct_computation():
    p = get_provider("default")
    stdevs, vectors = p.color_pca([1, 2])
    pixels = np.concatenate([p.read_batch(n)[0].reshape(3, -1) for n in (1, 2)], axis=1).astype(np.float64)
    values, direct = np.linalg.eigh(np.cov(pixels, bias=True))
    np.testing.assert_allclose(stdevs, np.sqrt(values[::-1]), rtol=1e-4)
    for i in range(3):                       # the same axes, up to sign
        assert abs(abs(vectors[:, i] @ direct[:, 2 - i]) - 1) < 1e-4
    images = np.concatenate([p.read_batch(n)[0] for n in (1, 2)], axis=3).astype(np.float64)
    np.testing.assert_allclose(p.mean_image([1, 2]), images.mean(axis=3), rtol=1e-5)


def test_a_provider_of_images_first_batches_has_the_same_mean_and_colour_pca():
    """Provider.mean_image and color_pca read (N, C, H, W) batches when images_first: the statistics of
    the same images stored channel-major, as the provider above checks them against np.cov."""
    from convnet.data.provider import Provider
    p = get_provider("default")

    class ImagesFirst(Provider):
        image_shape, images_first = p.image_shape, True

        def read_batch(self, number):
            images, labels = p.read_batch(number)
            return images.transpose(3, 0, 1, 2).copy(), labels

    q = ImagesFirst()
    np.testing.assert_array_equal(q.mean_image([1, 2]), p.mean_image([1, 2]))
    for ours, theirs in zip(q.color_pca([1, 2]), p.color_pca([1, 2])):
        np.testing.assert_array_equal(ours, theirs)


def test_crop_larger_than_the_images():
    from convnet.errors import OptionError
    with pytest.raises(OptionError, match="--crop 13 is larger than the 12x12 images"):
        Augmentation(MEAN, crop=13)


def test_images_wider_than_tall_are_cropped_over_both_borders():
    """A provider's images need not be square (HDF5 batches of 10 x 14): the crop is square, the training
    windows range over each border on its own (2 rows, 6 columns), the centre crop and the views sit at
    each border's half, and the crop is at most the shorter side, which it is by default, reflected
    (it still crops the columns). Both layouts agree."""
    from convnet.errors import OptionError
    images = RNG.integers(0, 256, (3, 10, 14, 300)).astype(np.uint8)
    mean = RNG.uniform(0, 255, (3, 10, 14)).astype(np.float32)
    centred = images.astype(np.float32) - mean[..., None]
    aug = Augmentation(mean, crop=8)
    assert aug.shape == (3, 8, 8) and aug.border == (2, 6)
    out = aug.train(images, np.random.default_rng(2))
    windows = {(y, x): centred[:, y:y + 8, x:x + 8] for y in range(3) for x in range(7)}
    seen = set()
    for n in range(300):
        matches = [w for w, crop in windows.items() for f in (False, True)
                   if np.array_equal(out[..., n], crop[:, :, ::-1, n] if f else crop[..., n])]
        assert len(matches) == 1, f"image {n}: {matches}"
        seen.add(matches[0])
    assert seen == set(windows)                       # 300 draws of 21 windows: every one drawn
    stored = np.ascontiguousarray(images.transpose(3, 0, 1, 2))
    np.testing.assert_array_equal(Augmentation(mean, crop=8, images_first=True).train(stored, np.random.default_rng(2)), out)
    np.testing.assert_array_equal(aug.test(images), centred[:, 1:9, 3:11])
    for view, (y, x) in zip(aug.views(images)[:5], [(0, 0), (0, 6), (1, 3), (2, 0), (2, 6)], strict=True):
        np.testing.assert_array_equal(view, centred[:, y:y + 8, x:x + 8])
    whole_height = Augmentation(mean)
    assert whole_height.crop == 10 and whole_height.border == (0, 4) and whole_height.flip
    assert whole_height.describe() == "crops and reflections"
    with pytest.raises(OptionError, match="--crop 11 is larger than the 10x14 images"):
        Augmentation(mean, crop=11)


def test_what_training_does_is_said_in_a_few_words():
    square = np.zeros((3, 12, 12), np.float32)
    assert Augmentation(square).describe() == "whole images"
    assert Augmentation(square, flip=True).describe() == "whole images, reflections"
    assert Augmentation(square, crop=8).describe() == "crops and reflections"
    assert Augmentation(square, crop=8, flip=False).describe() == "crops, no reflections"
    assert Augmentation(square, crop=8, color_noise=0.1).describe() == "crops and reflections, colour noise 0.1"
    assert Augmentation(square, color_noise=0.5).describe() == "whole images, colour noise 0.5"


def test_both_layouts_give_the_same_crops_noise_and_views():
    stdevs = np.array([30.0, 8.0, 2.0], dtype=np.float32)
    vectors = np.linalg.qr(RNG.standard_normal((3, 3)))[0].astype(np.float32)
    engine = Augmentation(MEAN, crop=8, color_noise=0.1, pca=(stdevs, vectors))
    first = Augmentation(MEAN, crop=8, color_noise=0.1, pca=(stdevs, vectors), images_first=True)
    stored = np.ascontiguousarray(IMAGES.transpose(3, 0, 1, 2))
    idx = np.array([5, 0, 17, 3])
    np.testing.assert_array_equal(first.select(stored, idx), engine.select(IMAGES, idx).transpose(3, 0, 1, 2))
    np.testing.assert_allclose(first.train(stored, np.random.default_rng(9)), engine.train(IMAGES, np.random.default_rng(9)),
                               rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(first.test(stored), engine.test(IMAGES))
    for a, b in zip(first.views(stored), engine.views(IMAGES)):
        np.testing.assert_array_equal(a, b)


def test_scalar_mean_subtracts_the_mean_of_every_training_pixel(tmp_path):
    """--scalar-mean (the 2012 code's data_mean.mean()): one number for every pixel and channel, the
    mean over the training images' values; the test range is centred by the same number, and a run
    keeps it."""
    from convnet.session import DEFAULTS, Data
    from tests.training import FAST, TINY, convnet, evaluate, parse_test_lines
    data = Data({**DEFAULTS, "train_range": "1-2", "scalar_mean": True})
    p = data.provider
    values = np.concatenate([p.read_batch(n)[0].astype(np.float64).ravel() for n in (1, 2)])
    images = p.read_batch(6)[0][..., :8]
    np.testing.assert_allclose(data.augmentation.test(images), images.astype(np.float32) - values.mean(),
                               rtol=1e-6, atol=1e-4)
    run = convnet("train", *TINY, *FAST, "--scalar-mean", "--epochs", "1", "--save-path", tmp_path)
    assert f"the scalar mean {Data({**DEFAULTS, 'train_range': '1', 'scalar_mean': True}).scalar_mean:.2f} " \
           f"subtracted" in run.stdout
    test_cost = parse_test_lines(run.stdout)[-1][3]
    assert round(evaluate(tmp_path / "latest.h5")["cost"], 4) == test_cost        # tested as it trained
