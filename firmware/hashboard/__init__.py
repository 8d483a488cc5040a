# Hashboard controller firmware package (MicroPython; also imports on CPython for the fast lane).
VERSION = "0.1.0"
PROTOCOL_VERSION = 1
