"""Human-readable rendering of command results (the data itself comes from the domain packages)."""
