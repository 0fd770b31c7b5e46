"""`ppl serve`: an OpenAI-compatible HTTP server whose choices are posterior samples (docs/serve.md)."""
from frontend.server.app import create_app
from frontend.server.config import Limits, ServerConfig
from frontend.server.run import bind, run_server, url_of, uvicorn_server

__all__ = ["Limits", "ServerConfig", "bind", "create_app", "run_server", "url_of", "uvicorn_server"]
