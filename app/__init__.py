"""mlcycle's faces: the Textual terminal UI and the ``mlcycle`` command line.

Both only call ``core``.
"""
