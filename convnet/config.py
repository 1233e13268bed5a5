"""Reading cuda-convnet's two INI files: the layer definitions and the layer (learning) params.

Each [section] of the definition file is a layer; the params file has a section per layer that needs
learning params. Keys are case-insensitive, `#` and `;` start comments, and a value may hold a
per-input list (`filters=192,192`). As Python 2's ConfigParser, which read the 2012 files, a
[section] given twice is merged and the last of a key given twice counts (with a note if it differs). Every error names the file, the [section] and the key.
"""
import ast
import configparser
import math
import re

from .errors import ConfigError
from .notes import note

REQUIRED = object()

# Sections cuda-convnet never treated specially: "[DEFAULT]" is an ordinary layer name here.
_NO_DEFAULT_SECTION = "\x00no-default\x00"


class Section:
    """One [section] of one file: its keys (lower-cased) and their raw string values."""

    def __init__(self, file, name, items, lines=()):
        self.file, self.name, self.items = file, name, dict(items)
        self.lines = list(lines)        # where its [name] headers are: more than one, merged at the first

    def __contains__(self, key):
        return key.lower() in self.items

    def get(self, key):
        return self.items.get(key.lower())


def read_text(path):
    """A config file's text, for keeping in checkpoints; ConfigError if it cannot be read. UTF-8, with or
    without the byte-order mark that Windows editors write first; a file that is not UTF-8 (an accented
    name in a comment, saved as Latin-1) is read as Latin-1, as the 2012 code, which read bytes, took it.
    A file with NUL bytes is no text file (a checkpoint or an image given for a config)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError("no such file", file=path) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=path) from None
    except OSError as e:
        raise ConfigError(f"cannot read it ({e.strerror or e})", file=path) from None
    if b"\0" in data:
        raise ConfigError("is not a text file", file=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        note(f"{path}: not UTF-8 (byte {e.start + 1} is {data[e.start]:#04x}): read as Latin-1")
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")          # as text mode reads line ends


def read_ini(path, text=None, notes=True):
    """The sections of an INI file in file order, as {name: Section}. With `text`, parse that
    (a checkpoint's copy of the file) and use `path` only as its name in messages. notes: say where
    a key given twice replaces its earlier value (not for a text read again)."""
    parser = configparser.RawConfigParser(
        strict=False, interpolation=None, default_section=_NO_DEFAULT_SECTION,
        comment_prefixes=("#", ";"), inline_comment_prefixes=("#", ";"), empty_lines_in_values=False)
    if text is None:
        text = read_text(path)
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as e:
        raise ConfigError(f"line {e.lineno}: a key before the first [section]: {e.line.strip()!r}",
                          file=path) from None
    except configparser.ParsingError as e:
        lineno, line = e.errors[0]
        try:
            line = ast.literal_eval(line)      # configparser keeps the repr of the line
        except (ValueError, SyntaxError):
            pass
        raise ConfigError(f"line {lineno}: cannot parse {line.strip()!r} (expected key=value)",
                          file=path) from None
    _refuse_continuation_lines(path, text)
    headers = _section_lines(path, text, notes)
    return {name: Section(str(path), name, parser.items(name), headers.get(name, ()))
            for name in parser.sections()}


def first_difference(path, text, saved_path, saved_text):
    """(section, how) for the first [section] in which two versions of a config differ, or None when
    they hold the same keys and values (comments, spacing and key order do not count)."""
    given, saved = read_ini(path, text), read_ini(saved_path, saved_text)
    for name in list(given) + [n for n in saved if n not in given]:
        if name not in saved or name not in given or given[name].items != saved[name].items:
            return name, ("is not in" if name not in saved else "is missing from" if name not in given
                          else "differs from")
    return None


_SECTION = re.compile(r"^\[([^\]]+)\]")
_KEY = re.compile(r"^([^\s=:#;\[][^=:]*?)\s*[=:]\s*(.*?)\s*$")
_INLINE_COMMENT = re.compile(r"\s[#;].*$")


def _refuse_continuation_lines(path, text):
    """An INI reader (Python 2's, which read the 2012 files, as Python 3's) takes a line indented deeper
    than the key line above it as more of that key's value. Beside a comma that continues a list
    (`inputs=conv1a,` then `  conv1b`: the 2012 parser strips each item, layer.py:113); anywhere else
    it is a stray indent, easy to miss, that makes `  channels=3` under `inputs=data` the input
    'data' and 'channels=3' on two lines and leaves channels unset: it is named here, rather than
    as the key it hid."""
    section, key, indent, before = None, None, None, ""
    for lineno, line in enumerate(text.splitlines(), 1):
        content = _INLINE_COMMENT.sub("", line.strip()).strip()
        if not content or content[0] in "#;":
            indent = None                  # a blank or comment line ends a value (empty_lines_in_values)
            continue
        depth = len(line) - len(line.lstrip())
        if key is not None and indent is not None and depth > indent:
            if not (before.endswith(",") or content.startswith(",")):
                raise ConfigError(f"line {lineno}: {content!r}, indented deeper than the key line above it, "
                                  f"is read as more of this key's value (an INI continuation line), not as a "
                                  f"list's next item after a comma; write it without the indent",
                                  file=path, section=section, key=key)
            before = content
            continue
        indent, before = depth, content
        m = _SECTION.match(content)
        if m:
            section, key = m.group(1), None
        else:
            m = _KEY.match(content)
            key = m.group(1) if m else key


def _section_lines(path, text, notes):
    """{section: the line numbers of its [section] headers}. Python 2's ConfigParser, which read the 2012
    files, merged a [section] given twice and let the last of a key given twice win, silently
    (layer-params-170-quant.cfg has [hs1a] twice). convnet does the same, and with notes says so where a
    later value replaces a different earlier one."""
    seen, section, headers = {}, None, {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip()[0] in "#;":
            continue
        m = _SECTION.match(line.strip())
        if m:
            section = m.group(1)
            headers.setdefault(section, []).append(lineno)
            continue
        m = _KEY.match(line.strip()) if notes else None
        if m and section is not None:
            key, value = m.group(1).lower(), _INLINE_COMMENT.sub("", m.group(2))
            earlier = seen.get((section, key))
            if earlier is not None and earlier[1] != value:
                note(f"{path}: [{section}] {key}: given twice (lines {earlier[0]} and {lineno}); "
                     f"the later value {value!r} counts, as in the 2012 code")
            seen[(section, key)] = (lineno, value)
    return headers


class Key:
    """One config key of a layer type: how to parse it, its default, where it may be written.

    where: 'layers' (the definition file), 'params' (the params file) or 'either' (older files put
    some params, such as a norm layer's scale and pow, in the definition file).
    per_input: the value is a comma-separated list with one entry per input.
    """

    def __init__(self, name, parse, default=REQUIRED, doc="", per_input=False, where="layers"):
        self.name, self.parse, self.default, self.doc = name, parse, default, doc
        self.per_input, self.where = per_input, where

    @property
    def required(self):
        return self.default is REQUIRED


class LayerConfig:
    """The view of one layer's keys across its two sections, with typed reads.

    Every key read is remembered, so that what is left over at the end is an unknown key.
    """

    def __init__(self, name, definition, params=None, params_file=None):
        self.name, self.definition, self.params = name, definition, params
        self.params_file = params_file
        self._read = set()

    def _sections(self, where):
        if where in ("layers", "either"):
            yield self.definition
        if where in ("params", "either") and self.params is not None:
            yield self.params

    def file_of(self, key, where="layers"):
        """The file a key was (or should have been) written in, for error messages."""
        for section in self._sections(where):
            if key in section:
                return section.file
        return self.definition.file if where != "params" else (self.params_file or self.definition.file)

    def error(self, key, message, where="either"):
        return ConfigError(message, file=self.file_of(key, where) if key else self.definition.file,
                           section=self.name, key=key)

    def raw(self, name, where="layers"):
        """The raw string of a key, or None; marks it as read."""
        for section in self._sections(where):
            if name in section:
                self._read.add((section.file, name.lower()))
                return section.get(name)
        return None

    def has(self, name, where="layers"):
        return any(name in s for s in self._sections(where))

    def read(self, key, n_inputs=1):
        """The parsed value of `key`; a list of n_inputs values when the key is per input."""
        text = self.raw(key.name, key.where)
        if text is None:
            if key.required and key.where == "params" and self.params is None:
                raise ConfigError(f"no section for this layer, which needs {key.name} and its other "
                                  f"learning params there", file=self.params_file, section=self.name)
            if key.required:
                where = {"layers": "the layer definition file", "params": "the layer params file",
                         "either": "the layer definition or params file"}[key.where]
                raise self.error(key.name, f"required key missing (give it in {where})", key.where)
            value = key.default
            return [value] * n_inputs if key.per_input and not isinstance(value, list) else value
        if not key.per_input:
            return self._parse(key, text)
        parts = [p.strip() for p in text.split(",")]
        if len(parts) == 1 and n_inputs > 1:
            parts = parts * n_inputs          # one value serves every input
        if len(parts) != n_inputs:
            raise self.error(key.name, f"gives {len(parts)} values for {n_inputs} inputs", key.where)
        return [self._parse(key, p) for p in parts]

    def _parse(self, key, text):
        try:
            return key.parse(text)
        except ValueError as e:
            raise self.error(key.name, f"{e}", key.where) from None

    def check_all_read(self):
        """Raise for the first key that no reader asked for: an unknown key."""
        for section in (self.definition, self.params):
            if section is None:
                continue
            for key in section.items:
                if (section.file, key) not in self._read:
                    raise ConfigError("unknown key for a layer of this type", file=section.file,
                                      section=self.name, key=key)


# Value parsers: each takes the raw string and returns a value or raises ValueError with a
# message that completes "file: [section] key: ...".

def integer(text):
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {text.strip()!r}") from None


def positive_integer(text):
    value = integer(text)
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def non_negative_integer(text):
    value = integer(text)
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def number(text):
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {text.strip()!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {text.strip()!r}")
    return value


def non_negative_number(text):
    value = number(text)
    if value < 0:
        raise ValueError(f"must not be negative, got {value:g}")
    return value


def retired_zeros(text):
    """A key of older files that the released 2012 code no longer read: accepted where it is off."""
    values = [number(v) for v in text.split(",")]
    if any(values):
        raise ValueError(f"is read by no released 2012 code and is accepted only as 0, got {text.strip()!r}")
    return 0.0


def probability(text):
    value = number(text)
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value:g}")
    return value


def boolean(text):
    word = text.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false or 1/0, got {text.strip()!r}")


def one_of(*choices):
    def parse(text):
        word = text.strip()
        if word not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {word!r}")
        return word
    return parse


def text(value):
    return value.strip()


def name_list(value):
    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise ValueError(f"has an empty name in {value.strip()!r}")
    return names
