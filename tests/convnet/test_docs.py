"""The README's config reference is the one the layer schemas write."""
from convnet.docs import config_reference
from tests.helpers import ROOT


def test_readme_holds_the_current_config_reference():
    assert config_reference() in (ROOT / "README.md").read_text(), \
        "README.md is out of date: replace its config reference with `python -m convnet.docs`"


def test_every_layer_type_is_summed_up_in_a_whole_sentence():
    """The summary is its module docstring's first paragraph, however many lines it wraps over (a first
    line alone cut four of them mid-sentence)."""
    summaries = [line for line in config_reference().splitlines() if line.startswith("**cost.")]
    assert len(summaries) >= 8 and all(line.endswith(".") for line in summaries), summaries
    assert "**cost.tica**: topographic ICA's sparsity cost, the square roots of windowed sums of squares " \
           "(the 2012 code's TICACostLayer)." in summaries


def test_write_puts_the_reference_between_the_markers_and_keeps_the_rest(tmp_path):
    from convnet.docs import BEGIN, END, write
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{BEGIN}\nan old reference\n{END}\nafter\n", encoding="utf-8")
    write(str(readme))
    assert readme.read_text(encoding="utf-8") == f"# title\n\nbefore\n{config_reference()}\nafter\n"
    write(str(readme))                                          # again: the same
    assert readme.read_text(encoding="utf-8") == f"# title\n\nbefore\n{config_reference()}\nafter\n"
