"""The built-in jurisdiction plugins, one folder each, registered through the same entry-point
group (``jijiao.plugins``) as any third-party plugin."""
