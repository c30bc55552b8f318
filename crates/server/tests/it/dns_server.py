"""A tiny authoritative DNS server for the outbound tests, on 127.0.0.1 (UDP, a free port it
prints first). Built in: nosuch.example does not exist (NXDOMAIN), nullmx.example publishes a
null MX (RFC 7505), nomx.example has no MX but an A record (127.0.0.1). A JSON file given as
the first argument adds names: {"name": {"A": ["127.0.0.2"], "MX": [[10, "mx.name"]],
"TXT": ["v=STSv1; id=1"], "TLSA": [[3, 1, 1, "hex"]], "secure": true}}. A name marked secure
is answered with the AD bit, as a validating resolver does for DNSSEC-signed data (carepost
trusts that bit from its configured resolver, as Postfix does). Anything else is NXDOMAIN.
Only the standard library: a query's header and question are read, and an answer built, by
RFC 1035 section 4 (and RFC 6698 for TLSA)."""
import json, socket, struct, sys

ZONE = {
    'nullmx.example': {'MX': [[0, '']]},
    'nomx.example': {'A': ['127.0.0.1']},
}
if len(sys.argv) > 1:
    with open(sys.argv[1]) as f:
        ZONE.update({k.lower(): v for k, v in json.load(f).items()})

TYPES = {1: 'A', 15: 'MX', 16: 'TXT', 52: 'TLSA'}

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

def encode_name(name):
    out = b''
    for label in [l for l in name.rstrip('.').split('.') if l]:
        out += bytes([len(label)]) + label.encode()
    return out + b'\x00'

def rdata(kind, value):
    if kind == 'A':
        return socket.inet_aton(value)
    if kind == 'MX':
        return struct.pack('!H', value[0]) + encode_name(value[1])
    if kind == 'TXT':
        raw = value.encode()
        return b''.join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255] for i in range(0, max(len(raw), 1), 255))
    if kind == 'TLSA':
        return bytes(value[:3]) + bytes.fromhex(value[3])

while True:
    q, peer = s.recvfrom(4096)
    ident, flags = struct.unpack('!HH', q[:4])
    qname, end = name_of(q, 12)
    qtype, qclass = struct.unpack('!HH', q[end:end + 4])
    question = q[12:end + 4]
    entry = ZONE.get(qname)
    answers, count, rcode, ad = b'', 0, 0, 0
    if entry is None:
        rcode = 3
    else:
        kind = TYPES.get(qtype)
        for value in entry.get(kind, []) if kind else []:
            data = rdata(kind, value)
            answers += b'\xc0\x0c' + struct.pack('!HHIH', qtype, 1, 300, len(data)) + data
            count += 1
        if entry.get('secure'):
            ad = 0x0020
    header = struct.pack('!HHHHHH', ident, 0x8400 | (flags & 0x0100) | ad | rcode, 1, count, 0, 0)
    s.sendto(header + question + answers, peer)
