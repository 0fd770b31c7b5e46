"""Regular constraints: regex syntax, byte NFAs and their determinized automata."""
