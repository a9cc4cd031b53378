"""Exporting a capture to other formats (``tearline export``)."""
