"""The portal's local stack without Docker (see `python -m portal_stack --help`)."""

from .stack import StackInfo, ensure_up

__all__ = ["StackInfo", "ensure_up"]
