"""Loading models: built-in names, installed model packages, GGUF files (dequantized once) and local directories."""
