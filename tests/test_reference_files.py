"""The 2012 config files in tests/reference are the originals, unmodified."""
import filecmp

import pytest

from tests.helpers import REFERENCE, ROOT

SHARED = ROOT.parent / "shared" / "reference" / "alexnet-2012"


@pytest.mark.skipif(not SHARED.exists(), reason="no ../shared/reference beside this checkout")
def test_copies_are_identical_to_the_shared_originals():
    for sub in ("imagenet", "cifar", "."):
        names = sorted(p.name for p in (SHARED / sub).iterdir() if p.is_file())
        match, mismatch, errors = filecmp.cmpfiles(SHARED / sub, REFERENCE / sub, names, shallow=False)
        assert mismatch == [] and errors == [] and match == names


def test_all_eleven_pairs_are_present():
    assert len(list(REFERENCE.glob("*/layers*.cfg"))) == 11
    assert len(list(REFERENCE.glob("*/layer-params*.cfg"))) == 11
