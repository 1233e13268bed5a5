"""Notes: what a user should know that is not an error, such as a part of a 2012 file that the 2012
code ignored and convnet ignores too. The CLI prints each as one `convnet: note:` line on stderr;
used as a library, convnet gives them to Python's warnings (category Note)."""
import warnings
from contextlib import contextmanager


class Note(UserWarning):
    pass


_sink = None


def note(message):
    if _sink is not None:
        _sink(message)
    else:
        warnings.warn(message, Note, stacklevel=2)


def send_notes_to(echo):
    """Every later note goes to echo(message) (the CLI: one stderr line each); None: to warnings again.
    Returns where they went before."""
    global _sink
    before, _sink = _sink, echo
    return before


@contextmanager
def unsaid():
    """Within: the notes are dropped (where they would repeat or mislead)."""
    before = send_notes_to(lambda message: None)
    try:
        yield
    finally:
        send_notes_to(before)
