"""Entry point: `python wsgi.py` serves (gunicorn, server/serving.py), `gunicorn wsgi:app` is the same app under a
gunicorn started by hand, and `flask --app wsgi …` runs the commands."""
import logging
import os

from server.app import create_app, create_command_app
from server.serving import main

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("alembic").setLevel(logging.WARNING)

if __name__ == "__main__":
    main()  # the master builds no app to serve: each worker process builds its own after the fork
elif os.environ.get("FLASK_RUN_FROM_CLI") == "true":
    # `flask --app wsgi …` imports this module for every command and for --help, marked by Flask with
    # FLASK_RUN_FROM_CLI (the mark that makes app.run() a no-op there): the commands open the data dir only when
    # one runs, and never start the background worker
    app = create_command_app()
else:
    app = create_app()
