"""The demo province (``jijiao demo``): realistic data for the eight built-in jurisdictions. It
names jurisdictions, so it lives here, outside the neutral core."""
