"""Serving next-token requests: the batching forward server, KV pool, prefix trie, lean forward passes."""
