"""Where the project's files are, for every test."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"
FRONTEND = ROOT / "frontend"
FIXTURES = ROOT / "tests" / "fixtures"
