"""OS1: an AI companion that talks with people, remembers each of them, and grows a
relationship with each."""

__version__ = "0.1.0"
