"""CTI layer of a 12345 government-service hotline on Asterisk."""

__version__ = "0.1.0"
