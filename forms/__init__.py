"""The project's XLSForms and the code that compiles any XLSForm to an XForm with pyxform."""
