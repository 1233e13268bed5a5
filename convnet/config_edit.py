"""Changing one [section] of a config's text, for a net changed as it is loaded (convnet.surgery):
the rest of the file, its comments and its order stay as they were, so the checkpoint's copy of the
file still reads as the user's file."""
import re

from .config import read_ini
from .errors import ConfigError

_SECTION = re.compile(r"^\[(.+)\]")          # as configparser reads a header
_KEY = re.compile(r"^([^=:]*?)\s*[=:]")


def edit_section(path, text, section, changes, comment=None):
    """text with [section]'s keys changed: changes maps a key to its new value, or to None to remove
    it. Every line of a changed key goes, wherever the section appears (a section given twice is
    merged, as configparser merges it); the new values, after `# comment`, follow the section's first
    header. The result is read back and compared with what was meant."""
    wanted = {key.lower(): value for key, value in changes.items()}
    before = read_ini(path, text, notes=False)
    if section not in before:
        raise ValueError(f"no [{section}] in {path}")
    out, current, in_removed, header = [], None, False, None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if in_removed and stripped and line[:1] in " \t":       # a continuation of a removed value
            continue
        in_removed = False
        m = _SECTION.match(stripped)
        if m:
            current = m.group(1)
            out.append(line if line.endswith("\n") else line + "\n")
            if current == section and header is None:
                header = len(out)
            continue
        key = _KEY.match(stripped) if current == section and stripped[:1] not in ("", "#", ";") else None
        if key and key.group(1).strip().lower() in wanted:
            in_removed = True
            continue
        out.append(line)
    unusual = ConfigError("cannot be rewritten line by line here (an unusual layout); write the change into "
                          "a copy of the file yourself", file=path, section=section)
    if header is None:
        raise unusual
    added = [f"# {comment}\n"] if comment else []
    added += [f"{key}={value}\n" for key, value in changes.items() if value is not None]
    out[header:header] = added
    edited = "".join(out)

    meant = {k: v for k, v in before[section].items.items() if k not in wanted}
    meant.update({k: str(v) for k, v in wanted.items() if v is not None})
    try:
        after = read_ini(path, edited, notes=False)
    except ConfigError:
        raise unusual from None
    others_kept = list(after) == list(before) and all(after[name].items == s.items
                                                      for name, s in before.items() if name != section)
    if not others_kept or after[section].items != meant:
        raise unusual
    return edited
