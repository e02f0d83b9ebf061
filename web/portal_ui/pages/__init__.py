"""One router per area of the portal (public, citizen, ...); `main.py` includes them all."""
