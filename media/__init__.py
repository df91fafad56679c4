"""Attachment storage behind one small interface, content-addressed by SHA-256."""
