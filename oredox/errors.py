"""The one exception type that oredox raises for bad input or an unusable setup."""


class OredoxInputError(ValueError):
    """Input that oredox cannot work with; the message says what to do instead.

    The command line prints the message alone (no traceback) and exits with status 2.
    Raised before anything is submitted or written to a store.
    """


class OredoxRunError(RuntimeError):
    """A run that started but did not finish; the message points to its log.

    The command line prints the message alone and exits with status 1. Outputs of the
    jobs that finished stay in the store; no study document is written.
    """


def validation_problems(exc, root: str = "input") -> str:
    """A pydantic ``ValidationError`` as one line: ``field.path: message; ...``.

    Only the locations and messages, never the input values (a store URI may hold a
    password). ``root`` names a problem of the whole object.
    """
    return "; ".join(
        f"{'.'.join(map(str, err['loc'])) or root}: {err['msg']}"
        for err in exc.errors()
    )
