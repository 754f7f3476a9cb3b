"""The one exception type that oredox raises for bad input or an unusable setup."""


class OredoxInputError(ValueError):
    """Input that oredox cannot work with; the message says what to do instead.

    The command line prints the message alone (no traceback) and exits with status 2.
    Raised before anything is submitted or written to a store.
    """
