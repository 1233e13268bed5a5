"""edit_section: one [section]'s keys changed in a config's text, the rest of the file as it was."""
import pytest

from convnet.config import read_ini
from convnet.config_edit import edit_section
from convnet.errors import ConfigError

TEXT = """# the net
[conv1]
type=conv
sharedBiases = 1   # one per filter
Filters=16

[pool1]   ; a pool
type=pool
sharedBiases=1

[conv1]
partialSum=4
long=a,
  b
filters=32
"""


def test_keys_go_from_every_part_of_the_section_and_new_ones_follow_its_first_header():
    edited = edit_section("l.cfg", TEXT, "conv1", {"type": "local", "sharedBiases": None, "partialSum": None,
                                                  "long": None}, comment="was conv")
    assert edited.splitlines()[:4] == ["# the net", "[conv1]", "# was conv", "type=local"]
    sections = read_ini("l.cfg", edited, notes=False)
    assert sections["conv1"].items == {"type": "local", "filters": "32"}
    assert sections["pool1"].items == {"type": "pool", "sharedbiases": "1"}       # another section's key stays
    assert "[pool1]   ; a pool" in edited and "  b" not in edited     # comments kept, a continuation gone


def test_the_last_header_of_a_file_without_a_final_newline():
    edited = edit_section("l.cfg", "[a]\ntype=conv\n[b]", "b", {"type": "fc"})
    assert read_ini("l.cfg", edited)["b"].items == {"type": "fc"}


def test_a_layout_it_cannot_follow_is_one_clear_error():
    text = "[conv1] # see [pool1]\ntype=conv\n"      # configparser reads the header without its comment
    with pytest.raises(ConfigError) as e:
        edit_section("l.cfg", text, "conv1", {"type": "local"})
    assert str(e.value).startswith("l.cfg: [conv1] cannot be rewritten line by line")
