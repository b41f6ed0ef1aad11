"""The local engines the handlers talk to (DynamoDB Local, moto), started, stopped, and
given the template's tables; and what those engines lack that the service does (TTL)."""
