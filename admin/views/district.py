"""Pages of this role group (being built)."""


def register(admin) -> None:
    pass
