"""What wslocal assumes when it is told nothing: the region and account a stage runs in,
how often it sweeps expired items, the sample WebSocket events it knows. A module with no
imports, so that ``wslocal start`` parses its command line, and launches DynamoDB
Local's JVM, before it loads the template's machinery and the stage."""

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_SWEEP_INTERVAL_S = 10.0
"""How often the stage sweeps a table for TTL-expired items (DynamoDB Local never deletes
them); a large table less often (``wslocal.engines.ttl.wait_after``)."""
WEBSOCKET_ROUTES = ("connect", "message", "disconnect")
"""The kinds of sample WebSocket event ``wslocal generate-event websocket`` prints."""
LOOP_KINDS = ("auto", "uvloop", "asyncio")
"""The event loops ``wslocal start --loop`` runs on (``wslocal.event_loop``)."""
