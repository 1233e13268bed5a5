"""--train-range and --test-range: the batch numbers read from text and written back as text."""
import pytest

from convnet.data.provider import Provider, format_range
from convnet.errors import OptionError


class Batches(Provider):
    name, batch_numbers = "test", (1, 2, 3, 4, 5, 6, 9)


@pytest.mark.parametrize("text,numbers", [("1-5", [1, 2, 3, 4, 5]), ("6", [6]), ("1-3,9", [1, 2, 3, 9]),
                                          (" 2 - 4 , 6 ", [2, 3, 4, 6]), ("5-5", [5]), (4, [4])])
def test_ranges_read(text, numbers):
    assert Batches().parse_range(text, "--train-range") == numbers


LIKE = "expected batch numbers like 1-5 or 6 or 1-3,7"


@pytest.mark.parametrize("text,said", [("1..5", f"'1..5': {LIKE}"), ("", f"'': {LIKE}"), ("1,", f"'1,': {LIKE}"),
                                       ("-2", f"'-2': {LIKE}"),
                                       ("5-2", "'5-2': 5-2 is an empty range"),
                                       ("6-8", "6-8: batch 7 is not in the test data (it has 1-6,9)")])
def test_bad_ranges_are_one_line_naming_the_option(text, said):
    with pytest.raises(OptionError) as e:
        Batches().parse_range(text, "--test-range")
    assert str(e.value) == f"--test-range {said}"


@pytest.mark.parametrize("numbers,text", [([], "no batches"), ([7], "7"), ([1, 2, 3, 4, 5], "1-5"),
                                          ([6, 1, 3, 2], "1-3,6"), ([1, 3, 5], "1,3,5"),
                                          ([2, 3, 9, 10, 12], "2-3,9-10,12")])
def test_ranges_written(numbers, text):
    assert format_range(numbers) == text


def test_a_range_written_reads_back_as_its_numbers():
    for numbers in ([1, 2, 3, 9], [9], [2, 4, 5, 6], [1, 2, 3, 4, 5, 6, 9]):
        assert Batches().parse_range(format_range(numbers), "--train-range") == numbers
