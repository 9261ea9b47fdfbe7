"""The business daemons, one module each; run them as `python -m ecauto.daemons.<module>`."""
