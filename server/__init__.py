"""The Flask shell: the app factory (`server.app`), blueprints, pages, auth, CLI, templates and static assets.

This package's own module imports nothing, so that the database, error and settings modules (`server.db`,
`server.errors`, `server.config`) can be used by the domain packages without loading Flask.
"""
