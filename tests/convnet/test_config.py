"""Reading the two INI files: the dialect of the 2012 files, and one clear line for every broken file."""
import re

import pytest
from click.testing import CliRunner

from convnet.cli import main
from convnet.config import read_ini
from convnet.errors import ConfigError
from tests.helpers import write

GOOD_LAYERS = """
    [data]
    type=data
    dataIdx=0

    [labels]
    type=data
    dataIdx=1

    [conv1]
    type=conv
    inputs=data
    channels=3
    filters=8
    filterSize=3
    padding=1

    [fc1]
    type=fc
    inputs=conv1
    outputs=4

    [probs]
    type=softmax
    inputs=fc1

    [cost]
    type=cost.logreg
    inputs=labels,probs
"""
GOOD_PARAMS = """
    [conv1]
    epsW=0.01
    epsB=0.02
    momW=0.9
    momB=0.9
    wc=0.0005

    [fc1]
    epsW=0.01
    epsB=0.02
    momW=0.9
    momB=0.9
"""


def describe(tmp_path, layers=GOOD_LAYERS, params=GOOD_PARAMS):
    args = ["describe", "--layers", write(tmp_path, "layers.cfg", layers),
            "--params", write(tmp_path, "params.cfg", params), "--input-size", "8"]
    return CliRunner().invoke(main, args)


def test_good_files_describe(tmp_path):
    result = describe(tmp_path)
    assert result.exit_code == 0, result.output
    assert "8x8x8" in result.output and "total" in result.output


def test_keys_are_case_insensitive_and_comments_are_allowed(tmp_path):
    layers = GOOD_LAYERS.replace("filterSize=3", "FILTERSIZE = 3   ; the filter\n    # a comment line")
    layers = layers.replace("outputs=4", "Outputs=4 # four classes\n#\n;\n#[a section commented out]")
    result = describe(tmp_path, layers)
    assert result.exit_code == 0, result.output


def one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("convnet: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


BROKEN = [  # (what to break, replacement, fragments of the message)
    ("type=softmax", "type=softmaxx", ["layers.cfg:", "[probs]", "type:", "unknown layer type 'softmaxx'"]),
    ("outputs=4", "outputs=4\n    colour=blue", ["layers.cfg:", "[fc1]", "colour:", "unknown key"]),
    ("    filterSize=3\n", "", ["layers.cfg:", "[conv1]", "filterSize:", "required key missing"]),
    ("inputs=conv1", "inputs=conv9", ["[fc1]", "inputs:", "no layer named 'conv9'"]),
    ("inputs=data", "inputs=late", ["[conv1]", "inputs:", "'late' comes later"]),
    ("inputs=data", "inputs=fc1", ["[conv1]", "inputs:", "cycle"]),
    ("type=softmax", "type=neuron\n    neuron=logistic", ["[cost]", "second input must be a softmax"]),
    ("channels=3", "channels=4", ["[conv1]", "channels:", "is 4 but input 'data' has 3 channels"]),
    ("filterSize=3", "filterSize=11", ["[conv1]", "filterSize:", "larger than input 'data' (8x8) with padding 1"]),
    ("padding=1", "padding=one", ["[conv1]", "padding:", "expected an integer, got 'one'"]),
    ("outputs=4", "outputs=-4", ["[fc1]", "outputs:", "must be at least 1"]),
    ("[labels]", "[labels]\n    junk", ["layers.cfg:", "cannot parse 'junk'"]),
    ("dataIdx=1", "dataIdx=2", ["[labels]", "dataIdx:", "is 2, but the data provider gives 2 arrays (0: images, "
                                                        "1: labels)"]),
]


@pytest.mark.parametrize("old,new,fragments", BROKEN, ids=[b[2][-1][:30] for b in BROKEN])
def test_broken_layer_file(tmp_path, old, new, fragments):
    assert old in GOOD_LAYERS
    late = "\n    [late]\n    type=data\n    dataIdx=0\n" if new == "inputs=late" else ""
    one_line_error(describe(tmp_path, GOOD_LAYERS.replace(old, new, 1) + late), *fragments)


def test_layer_that_feeds_nothing(tmp_path):
    layers = GOOD_LAYERS + "\n    [extra]\n    type=neuron\n    inputs=conv1\n    neuron=relu\n"
    one_line_error(describe(tmp_path, layers), "[extra]", "feeds no other layer")


def test_params_file_without_a_weight_layers_section(tmp_path):
    params = GOOD_PARAMS.split("[fc1]")[0]
    one_line_error(describe(tmp_path, params=params), "params.cfg:", "[fc1]", "no section for this layer")


def test_the_two_files_swapped_name_the_file_without_types_and_say_so(tmp_path):
    one_line_error(describe(tmp_path, layers=GOOD_PARAMS, params=GOOD_LAYERS), "layers.cfg:", "[conv1]", "type:",
                   "required key missing", "params.cfg has it: are --layers and --params swapped?)")
    result = describe(tmp_path, layers=GOOD_LAYERS.replace("type=conv", "", 1))
    one_line_error(result, "layers.cfg:", "[conv1]", "type:", "required key missing")
    assert "are --layers and --params swapped" not in result.output


def test_params_key_missing_or_wrong(tmp_path):
    one_line_error(describe(tmp_path, params=GOOD_PARAMS.replace("    momB=0.9\n", "", 1)),
                   "params.cfg:", "[conv1]", "momB:", "required key missing")
    one_line_error(describe(tmp_path, params=GOOD_PARAMS.replace("epsW=0.01", "epsW=fast", 1)),
                   "params.cfg:", "[conv1]", "epsW:", "expected a number")



def test_a_params_section_for_no_layer_is_ignored_with_a_note(tmp_path):
    # as the 2012 parser, which looked up its layers' sections: layer-params-117.cfg has sections for
    # a fourth column that layers-117.cfg does not have
    result = describe(tmp_path, params=GOOD_PARAMS + "\n    [fc9]\n    epsW=1\n\n    [fc8]\n    epsW=1\n")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("convnet: note:")]
    assert len(notes) == 1 and "params.cfg: ignored, as the 2012 code did: sections [fc9], [fc8]" in notes[0]


def test_a_section_given_twice_is_merged_and_the_last_value_counts(tmp_path):
    params = GOOD_PARAMS.replace("    [fc1]\n    epsW=0.01\n", "    [fc1]\n    epsW=0.01\n", 1)
    params = params.replace("    [fc1]\n", "    [fc1]\n    epsB=0.5\n    epsW=0.01\n\n    [conv1]\n    wc=0.0005\n\n    [fc1]\n", 1)
    result = describe(tmp_path, params=params)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("convnet: note:")]
    assert len(notes) == 1 and "[fc1] epsb: given twice" in notes[0] and "'0.02' counts" in notes[0], notes
    from convnet.notes import Note
    with pytest.warns(Note, match=r"\[fc1\] epsb: given twice"):       # read as a library: a warning
        sections = read_ini(write(tmp_path, "p.cfg", params))
    assert sections["fc1"].get("epsB") == "0.02" and sections["conv1"].get("wc") == "0.0005"


def test_a_layer_given_twice_before_its_input_is_said_to_be_given_twice(tmp_path):
    """Merged into its first place, as the 2012 parser merged it, [fc1] would read its input before it is
    defined: the line says why it is where it is."""
    layers = "\n    [fc1]\n    type=fc\n" + GOOD_LAYERS
    one_line_error(describe(tmp_path, layers=layers), "layers.cfg: [fc1] inputs: 'conv1' comes later in the file; a "
                   "layer's inputs must be defined before it ([fc1] is given 2 times, at lines 2 and 21: a section "
                   "given again is merged into the first, in its place, as in the 2012 code)")
    thrice = "\n    [fc1]\n    type=fc\n" + "\n    [fc1]\n    type=fc\n" + GOOD_LAYERS     # lines 2, 5 and 24
    assert [i + 1 for i, line in enumerate(thrice.splitlines()) if line.strip() == "[fc1]"] == [2, 5, 24]
    one_line_error(describe(tmp_path, layers=thrice), "before it ([fc1] is given 3 times, at lines 2, 5 and 24: a section")
    for later_input in ("conv1", "nosuch"):           # a later layer's own inputs need not be known yet
        once = describe(tmp_path, layers=GOOD_LAYERS.replace("inputs=conv1", "inputs=later") + "\n    [later]\n"
                        f"    type=neuron\n    neuron=relu\n    inputs={later_input}\n")
        one_line_error(once, "[fc1] inputs: 'later' comes later in the file")
        assert once.output.strip().endswith("a layer's inputs must be defined before it"), once.output
    one_line_error(describe(tmp_path, layers=GOOD_LAYERS.replace("inputs=conv1", "inputs=probs")),
                   "'probs' makes a cycle")


def test_a_line_indented_under_a_key_is_named_as_the_continuation_it_is_read_as(tmp_path):
    """INI readers take a line indented deeper than the key line above it as more of that key's value:
    the error names that line, not the key it hid (channels: required key missing) or an input named
    'data' and 'channels=3' on two lines."""
    layers = GOOD_LAYERS.replace("    channels=3\n", "      channels=3\n", 1)
    assert [i + 1 for i, line in enumerate(layers.splitlines()) if "channels=3" in line] == [13]
    one_line_error(describe(tmp_path, layers=layers), "layers.cfg: [conv1] inputs: line 13: 'channels=3', indented "
                   "deeper than the key line above it, is read as more of this key's value (an INI continuation "
                   "line), not as a list's next item after a comma; write it without the indent")
    params = GOOD_PARAMS.replace("    momB=0.9\n    wc=", "    momB=0.9\n     ; said twice\n      wc=", 1)
    assert "params.cfg: [conv1] momB: line 7: 'wc=0.0005'" in describe(tmp_path, params=params.replace(
        "     ; said twice\n", "", 1)).output
    # a blank or comment line ends a value: what follows is a key, however indented, as Python 3 reads it
    assert describe(tmp_path, params=params).exit_code == 0
    assert describe(tmp_path, layers=GOOD_LAYERS.replace("    channels=3\n", "\n      channels=3\n", 1)).exit_code == 0
    assert describe(tmp_path, layers=GOOD_LAYERS.replace("\n    ", "\n      ")).exit_code == 0   # all alike
    # a list goes on over lines after a comma, as the 2012 parser read it (each item stripped, layer.py:113)
    for split in ("inputs=labels,  # the labels\n      probs", "inputs=labels\n      , probs"):
        listed = describe(tmp_path, layers=GOOD_LAYERS.replace("inputs=labels,probs", split, 1))
        assert listed.exit_code == 0 and "cost.logreg  labels,probs" in listed.output, listed.output


def test_per_input_list_of_the_wrong_length(tmp_path):
    params = GOOD_PARAMS.replace("epsW=0.01\n    epsB=0.02\n    momW=0.9\n    momB=0.9\n    wc", "epsW=0.01,0.1\n    epsB=0.02\n    momW=0.9\n    momB=0.9\n    wc", 1)
    one_line_error(describe(tmp_path, params=params), "[conv1]", "epsW:", "gives 2 values for 1 inputs")


def test_missing_and_empty_files(tmp_path):
    result = CliRunner().invoke(main, ["describe", "--layers", str(tmp_path / "none.cfg"), "--params",
                                       str(tmp_path / "none.cfg"), "--input-size", "8"])
    one_line_error(result, "none.cfg: no such file")
    one_line_error(describe(tmp_path, layers="# nothing\n"), "defines no layers")


def test_default_section_name_is_an_ordinary_layer(tmp_path):
    path = write(tmp_path, "x.cfg", "[DEFAULT]\ntype=data\ndataIdx=0\n")
    assert list(read_ini(path)) == ["DEFAULT"]


def test_config_error_names_file_section_and_key():
    e = ConfigError("is bad", file="a.cfg", section="conv1", key="stride")
    assert str(e) == "a.cfg: [conv1] stride: is bad"


def test_real_console_script_prints_no_traceback(tmp_path):
    import subprocess
    import sys
    layers = write(tmp_path, "layers.cfg", GOOD_LAYERS.replace("type=softmax", "type=nope"))
    params = write(tmp_path, "params.cfg", GOOD_PARAMS)
    run = subprocess.run([sys.executable, "-m", "convnet", "describe", "--layers", layers, "--params", params,
                          "--input-size", "8"], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert "unknown layer type 'nope'" in run.stderr


def test_older_keys_of_the_2012_files(tmp_path):
    # layer-params-109.cfg gives conv layers `wcnorm=0.00`, a key that no released 2012 code read
    # (layer.py reads wcNormMin/wcNormMax only): accepted where it is off, refused where it would
    # silently do nothing
    ok = describe(tmp_path, params=GOOD_PARAMS.replace("wc=0.0005", "wc=0.0005\n    wcnorm=0.00", 1))
    assert ok.exit_code == 0, ok.output
    one_line_error(describe(tmp_path, params=GOOD_PARAMS.replace("wc=0.0005", "wc=0.0005\n    wcNorm=0.01", 1)),
                   "params.cfg:", "[conv1]", "wcNorm:", "accepted only as 0")


def test_topk_beside_a_cost_that_reports_none_is_ignored_with_a_note(tmp_path):
    # layer-params-flickr-102.cfg sets topk=5 on a cost.crossent2; only cost.logreg read topk
    layers = GOOD_LAYERS.replace("type=cost.logreg", "type=cost.crossent").replace("[cost]", "[xent]")
    result = describe(tmp_path, layers, GOOD_PARAMS + "\n    [xent]\n    coeff=1\n    topk=5\n")
    assert result.exit_code == 0, result.output
    assert "convnet: note: [xent] topk: ignored, as the 2012 code did: a cost.crossent layer" in result.output


def test_topk_beside_a_layer_that_is_no_cost_and_a_neuron_on_a_cost_are_unknown_keys(tmp_path):
    """topk is a cost's key alone; the 2012 parser read neuron= on a cost layer and dropped it
    (CostParser's del dic['neuron']): here a neuron after a cost, which ends the net, is refused."""
    one_line_error(describe(tmp_path, params=GOOD_PARAMS + "    topk=5\n"), "[fc1]", "topk:", "unknown key")
    one_line_error(describe(tmp_path, layers=GOOD_LAYERS + "    neuron=relu\n"), "[cost]", "neuron:", "unknown key")


def test_describe_sizes_the_labels_by_what_the_net_needs(tmp_path):
    # layers-flickr-105.cfg subtracts a (tags,) label vector from its logistic outputs; without a
    # data provider, describe sizes the labels by that, and keeps 1 (class numbers) otherwise
    layers = GOOD_LAYERS.replace("""    [probs]
    type=softmax
    inputs=fc1

    [cost]
    type=cost.logreg
    inputs=labels,probs
""", """    [diff]
    type=eltsum
    inputs=labels,fc1
    coeffs=1,-1

    [cost]
    type=cost.sum2
    inputs=diff
""")
    result = describe(tmp_path, layers)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line.strip()}
    assert rows["labels"][4] == "4" and rows["diff"][4] == "4", result.output
    plain = {line.split()[0]: line.split() for line in describe(tmp_path).output.splitlines() if line.strip()}
    assert plain["labels"][4] == "1"


def test_the_bytes_editors_write_read_as_the_same_file(tmp_path):
    """A byte-order mark (Windows editors), CRLF or CR line ends, and a comment saved as Latin-1 (the 2012
    code read bytes): the same layers; Latin-1 is said in a note. NUL bytes are no text."""
    import textwrap
    from convnet.config import read_text
    from convnet.notes import Note
    text = textwrap.dedent(GOOD_LAYERS)
    expected = read_ini(write(tmp_path, "plain.cfg", text))
    for name, data in (("bom.cfg", b"\xef\xbb\xbf" + text.encode()), ("crlf.cfg", text.replace("\n", "\r\n").encode()),
                       ("cr.cfg", text.replace("\n", "\r").encode())):
        (tmp_path / name).write_bytes(data)
        assert read_text(tmp_path / name) == text
        got = read_ini(tmp_path / name)
        assert {k: v.items for k, v in got.items()} == {k: v.items for k, v in expected.items()}, name
    (tmp_path / "latin.cfg").write_bytes(b"# Jos\xe9's net\n" + text.encode())
    with pytest.warns(Note, match=r"latin.cfg: not UTF-8 \(byte 6 is 0xe9\): read as Latin-1"):
        assert read_text(tmp_path / "latin.cfg") == "# José's net\n" + text
    (tmp_path / "binary.cfg").write_bytes(b"\x89HDF\r\n\x1a\n\x00\x00" + text.encode())
    with pytest.raises(ConfigError, match="binary.cfg: is not a text file"):
        read_text(tmp_path / "binary.cfg")
    result = CliRunner().invoke(main, ["describe", "--layers", str(tmp_path / "bom.cfg"), "--params",
                                       write(tmp_path, "params.cfg", GOOD_PARAMS), "--input-size", "8"])
    assert result.exit_code == 0 and "total" in result.output, result.output


def test_one_value_of_a_per_input_key_serves_every_input():
    """The README's convention: fc of two inputs with epsW=0.01 has 0.01 for both (the 2012 parser
    wanted one value per input, layer.py:333-336); two values are one each, three are refused."""
    from tests.helpers import make_layer
    params = dict(epsW="0.01", epsB="0.02", momW="0.9,0.5", momB="0.9")
    fc = make_layer("fc", [(4,), (3,)], dict(outputs=2), params)
    assert [w.base for w in fc.conf.epsW] == [0.01, 0.01] and fc.conf.momW == [0.9, 0.5]
    assert [(p.eps.base, p.mom) for p in fc.params[:2]] == [(0.01, 0.9), (0.01, 0.5)]
    with pytest.raises(ConfigError) as e:
        make_layer("fc", [(4,), (3,)], dict(outputs=2), dict(params, momW="0.9,0.5,0.1"))
    assert e.value.key == "momW" and "gives 3 values for 2 inputs" in str(e.value)


def test_two_versions_of_a_config_differ_in_their_first_section_of_other_keys_or_values():
    """What --load with --layers compares (cli_train._same_net): comments, spacing, the case of keys and
    their order do not count; a value, a key, a section added or removed does."""
    from convnet.config import first_difference
    base = "[data]\ntype=data\ndataIdx=0\n\n[fc1]\ntype=fc\ninputs=data\noutputs=4\n"
    same = "# the same net\n[data]\ndataIdx = 0 ; first\ntype=data\n[fc1]\nTYPE=fc\n  \ninputs=data\noutputs= 4\n"
    assert first_difference("a.cfg", base, "b.cfg", base) is None
    assert first_difference("a.cfg", same, "b.cfg", base) is None
    assert first_difference("a.cfg", base.replace("outputs=4", "outputs=5"), "b.cfg", base) == ("fc1", "differs from")
    assert first_difference("a.cfg", base.replace("outputs=4", "outputs=4\ninitW=0.1"), "b.cfg", base) == \
        ("fc1", "differs from")
    grown = base + "[fc2]\ntype=fc\ninputs=fc1\noutputs=2\n"
    assert first_difference("a.cfg", grown, "b.cfg", base) == ("fc2", "is not in")
    assert first_difference("a.cfg", base, "b.cfg", grown) == ("fc2", "is missing from")


def test_the_value_types():
    """boolean as the 2012 files write it (1/0; true/false too), probability in (0, 1], and numbers that
    must not be negative, at their bounds."""
    from convnet.config import boolean, non_negative_number, probability
    assert [boolean(t) for t in ("1", " true", "Yes", "on")] == [True] * 4
    assert [boolean(t) for t in ("0", "false ", "NO", "off")] == [False] * 4
    assert probability("1") == 1.0 and probability("0.5") == 0.5 and non_negative_number("0") == 0.0
    for parse, text, said in ((boolean, "2", "expected true/false or 1/0, got '2'"),
                              (probability, "0", "must be in (0, 1], got 0"),
                              (probability, "1.5", "must be in (0, 1], got 1.5"),
                              (non_negative_number, "-0.1", "must not be negative, got -0.1")):
        with pytest.raises(ValueError, match=re.escape(said)):
            parse(text)
