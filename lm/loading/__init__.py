"""Loading models: local directories, built-in names."""
