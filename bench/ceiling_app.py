"""The stack's ceiling: a WSGI app that does only the unavoidable part of accepting a submission.

It streams the request body to a new file in 64 KiB chunks, fsyncs it and answers 201 with a tiny OpenRosa
body. No parsing, no database, no authentication. Run under the same gunicorn settings as the real server,
with the same multipart bodies, it shows what gunicorn + the disk + the load generator allow on this machine;
the benchmark reports the real server's throughput as a fraction of it.

    gunicorn -w 2 --worker-class gthread --threads 4 bench.ceiling_app:app   (BENCH_CEILING_DIR = a folder)
"""
import os
import tempfile

CHUNK = 64 * 1024
FOLDER = os.environ.get("BENCH_CEILING_DIR") or tempfile.mkdtemp(prefix="zoufang-ceiling-")
BODY = (b'<OpenRosaResponse xmlns="http://openrosa.org/http/response">'
        b'<message nature="submit_success">ok</message></OpenRosaResponse>')


def app(environ, start_response):
    stream = environ["wsgi.input"]
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    fd, _name = tempfile.mkstemp(dir=FOLDER, prefix="body-")
    with os.fdopen(fd, "wb") as out:
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                break
            out.write(chunk)
            remaining -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    start_response("201 Created", [("Content-Type", "text/xml; charset=utf-8"),
                                   ("Content-Length", str(len(BODY))), ("X-OpenRosa-Version", "1.0")])
    return [BODY]
