#!/usr/bin/env python3
"""Prints N TCP ports of 127.0.0.1 that are free now (for programs that cannot listen on port 0
and report the port back).   scripts/free-ports.py N"""
import socket
import sys

socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
