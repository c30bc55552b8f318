"""A tiny authoritative DNS server for the outbound tests, on 127.0.0.1 (UDP, a free port it
prints first). It knows three domains: nosuch.example does not exist (NXDOMAIN), nullmx.example
publishes a null MX (RFC 7505), nomx.example has no MX but an A record (127.0.0.1). Anything
else is NXDOMAIN. Only the standard library: a query's header and question are read, and an
answer built, by RFC 1035 section 4."""
import socket, struct, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
print(s.getsockname()[1], flush=True)

def name_of(packet, i):
    labels = []
    while packet[i] != 0:
        n = packet[i]
        labels.append(packet[i + 1:i + 1 + n].decode().lower())
        i += n + 1
    return '.'.join(labels), i + 1

while True:
    q, peer = s.recvfrom(512)
    ident, flags = struct.unpack('!HH', q[:4])
    qname, end = name_of(q, 12)
    qtype, qclass = struct.unpack('!HH', q[end:end + 4])
    question = q[12:end + 4]
    answers = b''
    rcode = 0
    if qname == 'nullmx.example' and qtype == 15:
        answers = b'\xc0\x0c' + struct.pack('!HHIH', 15, 1, 300, 3) + struct.pack('!H', 0) + b'\x00'
    elif qname == 'nomx.example' and qtype == 1:
        answers = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 300, 4) + socket.inet_aton('127.0.0.1')
    elif qname in ('nomx.example', 'nullmx.example'):
        pass  # the name exists, without records of that type
    else:
        rcode = 3
    count = 1 if answers else 0
    header = struct.pack('!HHHHHH', ident, 0x8400 | (flags & 0x0100) | rcode, 1, count, 0, 0)
    s.sendto(header + question + answers, peer)
