"""The bundled demo county portal (served on 127.0.0.1 for `make run` and the tests)."""
from .server import DemoPortal

__all__ = ["DemoPortal"]
