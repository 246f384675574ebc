"""Human-readable pages: the regional profile documentation (``/profiles``, ``docs/profiles``)."""
