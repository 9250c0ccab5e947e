"""Darwin Core: the terms we write and the normalisers that fill them."""
