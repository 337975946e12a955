"""Memory-limited offloading across device, host and disk (FlexGen-style cost model and policy search)."""
