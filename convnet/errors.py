"""The errors a user can cause. The CLI prints each as one line and exits with its status."""


class ConvnetError(Exception):
    """An error in the user's input: printed as one line, never as a traceback."""

    exit_code = 1


class ConfigError(ConvnetError):
    """A broken config file: names the file, the [section] and the key."""

    exit_code = 2

    def __init__(self, message, file=None, section=None, key=None):
        self.message, self.file, self.section, self.key = message, file, section, key
        where = []
        if file:
            where.append(f"{file}:")
        if section:
            where.append(f"[{section}]")
        if key:
            where.append(f"{key}:")
        super().__init__(" ".join(where + [message]))


class ShapeError(ConfigError):
    """A config that does not fit the shapes of its inputs (or of the data)."""


class DataError(ConvnetError):
    """A missing, corrupt or ill-fitting dataset."""


class CheckpointError(ConvnetError):
    """A missing, truncated or corrupt checkpoint."""


class DivergenceError(ConvnetError):
    """Training produced a NaN or an infinite cost."""


class BackendError(ConvnetError):
    """A backend that cannot run here (no GPU, no compiler) or a kernel misuse."""


class OptionError(ConvnetError):
    """A command-line option whose value cannot work: exit 2, as click's own usage errors."""

    exit_code = 2
