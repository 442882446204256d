"""ptpip's fuzzer: ``python -m fuzz`` (see :mod:`fuzz.__main__`)."""
