"""Context-free constraints: Lark grammars recognized by an incremental character-level Earley parser."""
