"""One module per benchmark family; each registers itself on import."""
