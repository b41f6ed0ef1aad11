"""The I/O shell: a front door per port (the WebSocket API with ``@connections`` and the
page, then each REST or HTTP API), the stage's lifecycle, sessions, reloads."""

from wslocal.server.stage import LocalStage, StageConfig

__all__ = ["LocalStage", "StageConfig"]
