"""What both HTTP clients (Kaiten and Planka) treat as a broken transfer worth retrying."""

from __future__ import annotations

import http.client

import requests
import urllib3.exceptions

# A dropped connection, a timeout, or a body cut short (full Content-Length, fewer bytes, or a
# broken chunked encoding): the network failed, not the server's answer and not k2p.
BROKEN_TRANSFER: tuple[type[BaseException], ...] = (
    requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError, http.client.IncompleteRead,
    ConnectionError, TimeoutError)
