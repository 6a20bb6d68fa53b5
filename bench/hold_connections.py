#!/usr/bin/python3
"""Opens N keep-alive connections, sends one request on each, keeps them open, and prints the
server's resident memory (VmRSS of the given pid) while they are open."""
import socket
import sys


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    port, pid, count, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    socks = []
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        socks.append(s)
    answered = 0
    for s in socks:
        s.settimeout(5)
        if s.recv(4096).startswith(b"HTTP/1.1 200"):
            answered += 1
    print(f"{answered} {rss_kib(pid)}")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
