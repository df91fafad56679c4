"""Exports: the data leaves in the shapes people use (CSV for WPS/Excel, XLSX, a zip with the photos, GeoJSON for
QGIS), streamed: the first bytes leave at once and memory stays flat whatever the number of rows, so an export
never runs a web worker out of memory or past its timeout (Kobo's and Ona's users' worst pain).

`stream.py` holds the byte-level writers (a zip written to a non-seekable stream, an XLSX workbook written
sheet by sheet, CSV with a BOM); `submissions.py` and `households.py` turn rows of the database into them.
"""
