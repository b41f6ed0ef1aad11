"""The I/O shell: one port for the WebSocket API, ``@connections`` and static files."""

from wslocal.server.stage import LocalStage, StageConfig

__all__ = ["LocalStage", "StageConfig"]
