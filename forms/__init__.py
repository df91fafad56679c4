"""The project's XLSForms and the code that compiles any XLSForm to an XForm with pyxform."""
from pathlib import Path

#: the bundled XLSForms, published on first start and filled by tests and the demo (forms/README.md)
BUNDLED_DIR = Path(__file__).resolve().parent / "xlsforms"
