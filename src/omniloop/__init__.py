"""OmniLoop: closed-loop customer-lifecycle marketing for banks."""

__version__ = "0.1.0"
