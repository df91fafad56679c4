"""Entry point: `gunicorn wsgi:app` in production, `python wsgi.py` for the embedded default."""
import argparse
import logging

from server.app import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("alembic").setLevel(logging.WARNING)
app = create_app()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the Zoufang server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    app.run(host=args.host, port=args.port, threaded=True)
