"""Documents the platform issues from stored results: summary sheets (汇总表), statistics,
PDF registration forms and certificates with a verification code."""
