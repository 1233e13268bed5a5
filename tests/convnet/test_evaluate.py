"""The test's numbers (evaluate, what `convnet test` and every test point print) against a forward pass
written here: the net in test mode (hs scaling by keep, nothing dropped) on the mean-subtracted images."""
import numpy as np
import pytest

import convnet as package
from convnet.evaluate import evaluate
from convnet.session import DEFAULTS, build_net
from tests.helpers import ROOT
from tests.training import FAST, TINY, convnet, tiny_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return package.load(tiny_checkpoint(tmp_path_factory))


def mean_subtracted_test_batch(data):
    images, labels = data.provider.read_batch(data.test[0])
    return images.astype(np.float32) - data.provider.mean_image(data.train)[..., None], labels


def test_the_cost_and_errors_are_those_of_the_test_mode_softmax(tiny):
    net, data = tiny
    x, labels = mean_subtracted_test_batch(data)
    parts = []
    for i in range(0, labels.size, 500):
        net.forward([x[..., i:i + 500], labels[None, i:i + 500].astype(np.float32)], train=False)
        parts.append(net.activation("probs").astype(np.float64))
    p = np.concatenate(parts, axis=1)
    result = evaluate(net, data)
    assert result["cases"] == labels.size == 2000
    assert result["cost"] == pytest.approx(-np.log(p[labels, np.arange(labels.size)]).mean(), rel=1e-5)
    assert result["top1_error"] == pytest.approx(np.mean(p.argmax(axis=0) != labels), abs=1e-9)
    top5 = np.argsort(-p, axis=0)[:5]
    assert result["topk_error"] == pytest.approx(1 - np.mean((top5 == labels).any(axis=0)), abs=1e-9)


def test_a_net_with_a_cost_but_no_softmax_is_tested_by_its_cost_in_test_mode(tiny):
    """cost.sum2 of fc10, whose input is the hs layer's (times keep at test): sum y^2 / images."""
    _, data = tiny
    text = (ROOT / "tests/configs/tiny.cfg").read_text()
    for old, new in (("[labels]\ntype=data\ndataIdx=1\n\n", ""), ("[probs]\ntype=softmax\ninputs=fc10\n\n", ""),
                     ("[logprob]\ntype=cost.logreg\ninputs=labels,probs", "[energy]\ntype=cost.sum2\ninputs=fc10")):
        assert old in text
        text = text.replace(old, new)
    params = (ROOT / "tests/configs/tiny-params.cfg").read_text().replace("[logprob]\ncoeff=1\ntopk=5",
                                                                         "[energy]\ncoeff=1")
    net = build_net(data, "n.cfg", text, "p.cfg", params, {**DEFAULTS, "seed": 1})
    x, labels = mean_subtracted_test_batch(data)
    net.forward([x, labels[None].astype(np.float32)], train=False)
    y = net.activation("fc10").astype(np.float64)
    result = evaluate(net, data)
    assert result["cost"] == pytest.approx((y * y).sum() / labels.size, rel=1e-5)
    assert result["top1_error"] is None
    # multiview on whole images: five views of each image and five of its reflection, their costs averaged
    net.forward([np.ascontiguousarray(x[:, :, ::-1]), labels[None].astype(np.float32)], train=False)
    reflected = net.activation("fc10").astype(np.float64)
    cost = ((y * y).sum() + (reflected * reflected).sum()) / 2 / labels.size
    assert evaluate(net, data, multiview=True)["cost"] == pytest.approx(cost, rel=1e-5)


@pytest.fixture(scope="module")
def cropped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cropped")
    convnet("train", *TINY, *FAST, "--crop", "28", "--epochs", "1", "--save-path", folder)
    return package.load(folder / "latest.h5")


def test_the_multiview_test_averages_the_softmax_of_the_ten_crops(cropped):
    """The paper's section 4.1: the four corner crops, the centre one and their reflections, each less
    the same window of the mean image, their softmax outputs averaged."""
    net, data = cropped
    images, labels = data.provider.read_batch(data.test[0])
    mean = data.provider.mean_image(data.train)
    p = np.zeros((10, labels.size))
    for flip in (False, True):
        for y, x in ((0, 0), (0, 4), (2, 2), (4, 0), (4, 4)):
            view = images[:, y:y + 28, x:x + 28].astype(np.float32) - mean[:, y:y + 28, x:x + 28, None]
            view = np.ascontiguousarray(view[:, :, ::-1] if flip else view)
            for i in range(0, labels.size, 500):
                net.forward([view[..., i:i + 500], labels[None, i:i + 500].astype(np.float32)], train=False)
                p[:, i:i + 500] += net.activation("probs").astype(np.float64)
    p /= 10                                      # summed in the views' order, then divided, as evaluate does
    result = evaluate(net, data, multiview=True)
    assert result["cases"] == labels.size
    assert result["cost"] == pytest.approx(-np.log(p[labels, np.arange(labels.size)]).mean(), rel=1e-5)
    assert result["top1_error"] == pytest.approx(np.mean(p.argmax(axis=0) != labels), abs=1e-9)
    assert result["cost"] != pytest.approx(evaluate(net, data)["cost"], rel=1e-3)     # not the centre alone
