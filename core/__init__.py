"""jijiao core: the jurisdiction-neutral rule engine, plugin contract and data types.

Nothing in this package names a jurisdiction: every rule comes from a plugin.
"""

__version__ = "0.1.0"
