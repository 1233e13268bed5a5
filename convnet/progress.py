"""A progress line for work that takes a while (an epoch of ImageNet, a multiview test of its 50,000
validation images: hours on a CPU), redrawn in place on stderr where that is a terminal. A log file or
a pipe gets nothing from it: only the results, a line each."""
import os
import sys
import time

WIDTH = 30           # the bar's characters
EVERY = 0.1          # seconds between redraws: a GPU's minibatches come faster than a terminal needs them


class Progress:
    """`  label [=====     ] done/total rate images/s, 4m05s left`: show(done) as it goes (the time left at
    the pace since its first drawing), clear() before a result line
    (or `with Progress(...) as bar:`, which clears it at the end)."""

    def __init__(self, label, total, stream=None, unit="images"):
        self.label, self.total, self.unit = label, total, unit      # unit None: no rate (check-grads' layers)
        self.stream = sys.stderr if stream is None else stream
        self.on = total > 0 and getattr(self.stream, "isatty", lambda: False)()
        self.done, self.start, self.drawn, self.width = 0, time.perf_counter(), None, 0
        self.first = None        # (time, done) of the first drawing: the pace of the time left is from there

    def advance(self, images):
        """images more done (evaluate's on_batch)."""
        self.show(self.done + images)

    def show(self, done, rate=None, doing=""):
        """done of total; rate in units a second (default: done's, since the start); doing, what is under
        way now (check-grads' layer), said after the counts."""
        self.done = done
        if not self.on:
            return
        now = time.perf_counter()
        if self.drawn is not None and now - self.drawn < EVERY and done < self.total:
            return
        self.drawn = now
        self.first = self.first or (now, done)
        rate = done / max(now - self.start, 1e-9) if rate is None else rate
        (then, before), left = self.first, ""
        if before < done < self.total:
            left = f", {_duration((now - then) / (done - before) * (self.total - done))} left"
        speed = f" {rate:.0f} {self.unit}/s" if self.unit else ""
        counts = f"{done}/{self.total}{speed}{left}"
        # a line longer than the terminal wraps, and the return goes back to its last row only: the bar
        # gives way first, then the line's end (what is under way, whose length would move the bar)
        room = self._columns() - 1
        width = min(WIDTH, room - len(self.label) - len(counts) - 7)
        filled = int(width * min(done, self.total) / self.total)
        bar = f"[{'=' * filled}{' ' * (width - filled)}] " if width >= 5 else ""
        line = f"  {self.label} {bar}{counts}{f': {doing}' if doing else ''} "[:room]
        self.stream.write("\r" + line.ljust(min(self.width, room)))    # a shorter line covers the one before
        self.stream.flush()
        self.width = min(max(self.width, len(line)), room)

    def _columns(self):
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):    # not a real terminal's file (a test's stand-in)
            return 80

    def __enter__(self):
        return self

    def __exit__(self, *exc):                # wiped however the work ends
        self.clear()

    def clear(self):
        """The line wiped, the cursor back at its start: what is printed next starts a clean line."""
        if self.on and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width, self.drawn = 0, None


def _duration(seconds):
    """4m05s, or 2h07m from an hour on."""
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def progress_of(label, data, batches=None):
    """A Progress over the images of data's test range (or of these batches)."""
    return Progress(label, data.images_in(data.test if batches is None else batches))
