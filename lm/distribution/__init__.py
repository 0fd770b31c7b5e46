"""The language model as a distribution: vocabulary as bytes, contexts, next-token primitives."""
