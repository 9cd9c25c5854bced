"""User-facing errors: each carries one clear message naming what is wrong and where."""


class CompassliteError(Exception):
    """Base class; the CLI prints the message alone (no traceback) and exits 2."""


class ConfigError(CompassliteError):
    pass


class UnknownDatasetError(ConfigError):
    pass


class DataError(CompassliteError):
    """A data file is missing or malformed."""


class MissingDataError(DataError):
    """A data file is not where it is expected."""


class ServerError(CompassliteError):
    """The server is unreachable, or does not serve the model."""


class RunDirError(CompassliteError):
    pass
