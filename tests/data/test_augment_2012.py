"""--augment 2012: the 2012 providers' pipeline (convdata.py, convdata_cifar.py), checked on images
whose pixels say where they came from: pixel (y, x) of every image holds y * W + x."""
import numpy as np
import pytest

from convnet.data.augment_2012 import Augmentation2012
from convnet.data.loader import TrainStream, epoch_plan

H = W = 12
CROP = 8
BORDER = H - CROP


def coordinate_images(n, images_first=False):
    grid = (np.arange(H)[:, None] * W + np.arange(W)[None, :]).astype(np.uint8)
    images = np.broadcast_to(grid[None, :, :, None], (3, H, W, n)).copy()
    return np.ascontiguousarray(images.transpose(3, 0, 1, 2)) if images_first else images


def ramp_mean():
    """A mean image that differs everywhere, so that which window of it was subtracted shows."""
    return (np.arange(3 * H * W, dtype=np.float32).reshape(3, H, W) * 0.01)


def origins(out, aug):
    """(row, col, reflected) of every output image's window, read back from its pixels."""
    restored = out + aug.mean_centre[..., None]
    first, last = restored[0, 0, 0], restored[0, 0, CROP - 1]
    reflected = last < first
    left = np.where(reflected, last, first)
    return (left // W).astype(int), (left % W).astype(int), reflected


@pytest.mark.parametrize("images_first", [False, True])
def test_imagenet_style_draws_one_crop_and_reflection_per_32_images(images_first):
    aug = Augmentation2012(ramp_mean(), CROP, images_first=images_first, style="imagenet")
    out = aug.train(coordinate_images(200, images_first), np.random.default_rng(1))
    assert out.shape == (3, CROP, CROP, 200) and out.dtype == np.float32
    rows, cols, reflected = origins(out, aug)
    for start in range(0, 200, 32):
        chunk = slice(start, start + 32)
        assert len(set(zip(rows[chunk], cols[chunk], reflected[chunk]))) == 1, start
    assert len(set(zip(rows, cols))) > 2 and reflected.any() and not reflected.all()
    assert rows.max() <= BORDER and cols.max() <= BORDER
    # every window is whole: row y of the output is row rows+y of the image
    restored = out + aug.mean_centre[..., None]
    for j in (0, 40, 199):
        window = coordinate_images(1)[:, rows[j]:rows[j] + CROP, cols[j]:cols[j] + CROP, 0].astype(np.float32)
        np.testing.assert_array_equal(restored[..., j], window[..., ::-1] if reflected[j] else window)


@pytest.mark.parametrize("style,n", [("cifar", 5000), ("imagenet", 32 * 500)])
def test_every_crop_position_and_reflection_is_drawn_equally_often(style, n):
    """The 2012 providers drew each offset in 0..border (both ends) and a reflection with p = 1/2
    (nr.randint(0, border_size*2 + 1) and nr.randint(2), convdata.py:253-258, convdata_cifar.py:94-97):
    25 positions, each about 1/25 of the
    draws (per image for CIFAR style, per chunk of 32 for ImageNet style: 500 draws)."""
    aug = Augmentation2012(ramp_mean(), CROP, style=style, flip=True)
    rows, cols, reflected = origins(aug.train(coordinate_images(n), np.random.default_rng(2)), aug)
    draws = n // aug.chunk
    counts = np.zeros((BORDER + 1, BORDER + 1))
    np.add.at(counts, (rows[::aug.chunk], cols[::aug.chunk]), 1)
    expected = draws / 25                                    # each count binomial(draws, 1/25)
    assert counts.min() > 0 and np.abs(counts - expected).max() < 5 * np.sqrt(expected * 24 / 25)
    assert abs(reflected[::aug.chunk].mean() - 0.5) < 5 * 0.5 / np.sqrt(draws)


def test_the_centre_crop_of_the_mean_is_subtracted_from_every_crop():
    mean = ramp_mean()
    aug = Augmentation2012(mean, CROP, style="cifar")
    images = coordinate_images(64)
    out = aug.train(images, np.random.default_rng(2))
    c = BORDER // 2
    centre = mean[:, c:c + CROP, c:c + CROP]
    rows, cols, reflected = origins(out, aug)
    for j in range(64):
        window = images[:, rows[j]:rows[j] + CROP, cols[j]:cols[j] + CROP, j].astype(np.float32)
        window = window[..., ::-1] if reflected[j] else window
        np.testing.assert_allclose(out[..., j], window - centre, rtol=0, atol=1e-5)
    # CIFAR style: every image its own position
    assert len(set(zip(rows[:32], cols[:32]))) > 8


def test_colour_noise_is_added_then_everything_divided_by_one_plus_c():
    c = 0.5
    pca = (np.array([3.0, 2.0, 1.0], np.float32), np.eye(3, dtype=np.float32))
    aug = Augmentation2012(np.zeros((3, H, W), np.float32), CROP, color_noise=c, pca=pca, style="cifar")
    plain = Augmentation2012(np.zeros((3, H, W), np.float32), CROP, style="cifar")
    images = coordinate_images(4000)
    noisy = aug.train(images, np.random.default_rng(3)).astype(np.float64)
    clean = plain.train(images, np.random.default_rng(3)).astype(np.float64)   # the same crops
    noise = noisy * (1 + c) - clean                  # what was added: one value per image and channel
    np.testing.assert_allclose(noise, noise[:, :1, :1, :].repeat(CROP, 1).repeat(CROP, 2), atol=1e-3)
    np.testing.assert_allclose(noise[:, 0, 0].std(axis=1), c * pca[0], rtol=0.05)
    # added, as convdata.py:203 adds it (cropped += noise * coeff), not subtracted: the draws come after
    # the crops' (rows, columns, reflections), alpha ~ N(0, c^2) per channel and image, P = I here
    rng = np.random.default_rng(3)
    for high in (BORDER + 1, BORDER + 1, 2):
        rng.integers(0, high, 4000)
    alpha = rng.normal(0.0, c, (3, 4000)).astype(np.float32)
    np.testing.assert_allclose(noise[:, 0, 0], alpha * pca[0][:, None], rtol=1e-4, atol=1e-3)


def test_cifar_style_multiview_is_nine_positions_without_reflections():
    aug = Augmentation2012(ramp_mean(), CROP, style="cifar")
    views = aug.views(coordinate_images(3))
    assert aug.view_count == 9 and len(views) == 9
    seen = [(int(origins(v, aug)[0][0]), int(origins(v, aug)[1][0]), bool(origins(v, aug)[2][0])) for v in views]
    grid = (0, BORDER // 2, BORDER)
    assert seen == [(r, col, False) for r in grid for col in grid]
    assert_views_less_the_centre_mean(views, aug, coordinate_images(3), seen)


def test_imagenet_style_multiview_is_ten_views_less_the_centre_mean():
    aug = Augmentation2012(ramp_mean(), CROP, style="imagenet", images_first=True)
    views = aug.views(coordinate_images(2, images_first=True))
    assert aug.view_count == 10 and len(views) == 10
    corners = [(0, 0), (0, 4), (2, 2), (4, 0), (4, 4)]
    seen = [(int(origins(v, aug)[0][0]), int(origins(v, aug)[1][0]), bool(origins(v, aug)[2][0])) for v in views]
    assert seen == [(r, col, flip) for flip in (False, True) for r, col in corners]
    assert_views_less_the_centre_mean(views, aug, coordinate_images(2), seen)


def assert_views_less_the_centre_mean(views, aug, images, origins):
    """Each view is its window of the images (reflected where it says) less the centre crop of the mean
    (convdata.py's data_mean_crop, whatever the view's position)."""
    c = BORDER // 2
    centre = ramp_mean()[:, c:c + CROP, c:c + CROP]
    for view, (row, col, reflected) in zip(views, origins):
        window = images[:, row:row + CROP, col:col + CROP, :].astype(np.float32)
        expected = (window[:, :, ::-1] if reflected else window) - centre[..., None]
        np.testing.assert_allclose(view, expected, rtol=0, atol=1e-5)


class _Batches:
    def batch_size(self, number):
        return {3: 10, 1: 7, 2: 5}[number]


def test_the_2012_order_is_fixed_batches_as_listed_and_images_as_stored():
    plan = epoch_plan(_Batches(), [3, 1, 2], 4, seed=5, epoch=2, ordered=True)
    assert [number for number, _, _ in plan] == [3, 3, 3, 1, 1, 2, 2]
    assert np.concatenate([idx for number, idx, _ in plan if number == 3]).tolist() == list(range(10))
    flat = lambda p: [(number, idx.tolist()) for number, idx, _ in p]
    assert flat(plan) == flat(epoch_plan(_Batches(), [3, 1, 2], 4, seed=6, epoch=7, ordered=True))  # every epoch
    assert flat(plan) != flat(epoch_plan(_Batches(), [3, 1, 2], 4, seed=5, epoch=2))               # not shuffled


def test_the_train_stream_follows_the_augmentation_s_order():
    aug = Augmentation2012(np.zeros((3, H, W), np.float32), CROP, style="cifar")
    stream = TrainStream(_Batches(), [3, 1], aug, 4, seed=0, epoch=1)
    try:
        assert [number for number, _, _ in stream.plan] == [3, 3, 3, 1, 1]
    finally:
        stream.close()


def test_a_run_with_augment_2012_says_so_keeps_it_and_tests_nine_views(tmp_path):
    from tests.training import FAST, TINY, convnet
    run = convnet("train", *TINY, *FAST, "--crop", "28", "--augment", "2012", "--epochs", "1",
                  "--save-path", tmp_path)
    assert "2012 pipeline: crops and reflections, centre-crop mean, fixed order" in run.stdout, run.stdout
    views = convnet("test", "--load", tmp_path / "latest.h5", "--multiview")
    assert "multiview (9 views)" in views.stdout, views.stdout
