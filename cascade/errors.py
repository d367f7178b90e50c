"""One exception type for user-facing errors: its message is one sentence saying what to do."""


class CascadeError(Exception):
    """A problem with user input (weights, config, graph, paths); the CLI prints it and exits 2."""
