"""Stand-alone baseline programs the jobs run as child processes (``python FILE ...``)."""
