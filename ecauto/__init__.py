"""ecauto: the back office of a small cross-border e-commerce shop, run as supervised daemons."""

__version__ = "0.1.0"
