"""The web explorer: ``convscope serve`` (a local server, a JSON API and one page)."""
from .server import ApiError, handle_api, make_server, serve

__all__ = ["serve", "make_server", "handle_api", "ApiError"]
