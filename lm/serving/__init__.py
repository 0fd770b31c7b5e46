"""Serving next-token requests: the batching forward server, KV pool, prefix trie, lean forward passes, and
the lockstep in which several generations share forward passes (lockstep.py)."""
