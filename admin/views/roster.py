"""The roster of a reviewer's teachers (being built)."""


def register(admin) -> None:
    pass
