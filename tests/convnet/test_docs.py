"""The README's config reference is the one the layer schemas write."""
from convnet.docs import config_reference
from tests.helpers import ROOT


def test_readme_holds_the_current_config_reference():
    assert config_reference() in (ROOT / "README.md").read_text(), \
        "README.md is out of date: replace its config reference with `python -m convnet.docs`"
