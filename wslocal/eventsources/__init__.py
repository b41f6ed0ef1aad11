"""Event sources: Lambda's event source mappings, run locally. ``batches`` is the pure
core every source shares (retries, bisection, partial failures); ``dynamodb_records``
shapes stream records as Lambda does; ``dynamodb_streams`` polls a table's stream."""
