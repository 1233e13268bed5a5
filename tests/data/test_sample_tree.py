"""`python -m convnet.data.sample_tree DIR`, the README's first ImageNet command, run twice or into the
wrong folder."""
import os
import subprocess
import sys


def sample_tree(*args):
    return subprocess.run([sys.executable, "-m", "convnet.data.sample_tree", *map(str, args)], capture_output=True,
                          text=True)


def contents(root):
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files}


def test_the_same_command_twice_finds_its_tree_and_another_leaves_it_alone(tmp_path):
    root = tmp_path / "sample-imagenet"
    first = sample_tree(root)
    assert first.returncode == 0 and first.stderr == ""
    assert first.stdout == (f"{root}: 3 classes in train/, 5 images in val/ with val_labels.csv, 4 unlabelled in "
                            f"test/; 27 images, 3 unreadable and 3 to convert on purpose\n")
    made = contents(root)
    assert len(made) == 28 and sorted(os.listdir(tmp_path)) == ["sample-imagenet"]     # no temporary left
    again = sample_tree(root)
    assert again.returncode == 0 and again.stdout == first.stdout.replace(": 3 classes", ": already holds this "
                                                                                         "sample tree: 3 classes")
    other = sample_tree(root, "--val", "3")
    assert other.returncode == 1 and other.stdout == ""
    assert other.stderr == (f"sample_tree: error: {root}: holds files other than this sample tree's; give a new "
                            f"folder for the sample tree\n")
    assert contents(root) == made and sorted(os.listdir(tmp_path)) == ["sample-imagenet"]


def test_a_file_or_a_folder_of_ones_own_is_never_written_into(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "val_labels.csv").write_text("my labels\n")
    run = sample_tree(mine)
    assert run.returncode == 1 and "holds files other than this sample tree's" in run.stderr
    assert os.listdir(mine) == ["val_labels.csv"] and (mine / "val_labels.csv").read_text() == "my labels\n"
    (tmp_path / "a-file").write_text("x")
    run = sample_tree(tmp_path / "a-file")
    assert run.returncode == 1 and run.stderr == (f"sample_tree: error: {tmp_path / 'a-file'}: is a file; give a new "
                                                  f"folder for the sample tree\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert sample_tree(empty).returncode == 0 and len(contents(empty)) == 28
    run = sample_tree(tmp_path / "x", "--per-class", "0")
    assert run.returncode == 2 and "argument --per-class: 0 is not 1 or more" in run.stderr
