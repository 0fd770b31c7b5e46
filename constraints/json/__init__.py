"""JSON Schema constraints: a schema compiled to a streaming validator of JSON text."""
