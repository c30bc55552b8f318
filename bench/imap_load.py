#!/usr/bin/env python3
"""carepost's IMAP load generator, for bench/imap.sh: the same client against carepost and
against Dovecot in one run. Python's asyncio with TLS; every command waits for its tagged
answer, as a mail app's does.

  imap_load.py mixed  --port P --users FILE [--clients 10] [--seconds 30] [--reuse]
      Many clients, each in a loop: LOGIN, SELECT INBOX, APPEND, NOOP, FETCH a body, STORE
      \\Seen, STORE \\Deleted + EXPUNGE (the mailbox keeps its size), LOGOUT. With --reuse a
      client signs in once and loops over the rest (the mail engine without password hashing).
  imap_load.py fill   --port P --user U --password PW --messages N [--clients 4]
      APPENDs N messages to U's INBOX (pipelined, LITERAL+).
  imap_load.py big    --port P --user U --password PW
      Times SELECT INBOX and UID FETCH 1:* (FLAGS ENVELOPE) on U's INBOX.
  imap_load.py idle   --port P --users FILE --connections N --pid PID [--settle S]
      Opens N connections in IDLE, waits S seconds, and prints the server's memory (PSS of
      PID and its children) before and after, per connection.

FILE has a line `user password` per account. Prints one JSON object.
"""

import argparse
import asyncio
import json
import os
import random
import ssl
import time

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE

BODY = ("Ward round notes for the afternoon shift.\r\n" * 60).encode()


def message(i):
    head = (
        f"From: Load Test <load{i % 97}@example.org>\r\n"
        f"To: staff@example.org\r\nSubject: load message {i}\r\n"
        f"Message-ID: <{i}.{random.random()}@load.example>\r\n"
        "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n"
    ).encode()
    return head + BODY


class Client:
    def __init__(self, reader, writer):
        self.r, self.w, self.n = reader, writer, 0

    @classmethod
    async def open(cls, port):
        r, w = await asyncio.open_connection("127.0.0.1", port, ssl=CTX, limit=1 << 24)
        c = cls(r, w)
        await c.line()  # greeting
        return c

    async def line(self):
        data = await self.r.readline()
        if not data:
            raise ConnectionError("server closed the connection")
        # A literal: read its bytes and the rest of the line.
        while data.endswith(b"}\r\n") and b"{" in data:
            size = int(data[data.rindex(b"{") + 1 : -3].rstrip(b"+"))
            data += await self.r.readexactly(size)
            data += await self.r.readline()
        return data

    async def cmd(self, text, literal=None):
        """Sends one command and returns (status, untagged lines)."""
        self.n += 1
        tag = f"t{self.n}"
        if literal is None:
            self.w.write(f"{tag} {text}\r\n".encode())
        else:
            self.w.write(f"{tag} {text} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        await self.w.drain()
        untagged = []
        while True:
            l = await self.line()
            if l.startswith(tag.encode() + b" "):
                self.last = l.decode(errors="replace").strip()
                return l.split(b" ", 2)[1].decode(), untagged
            untagged.append(l)

    async def close(self):
        self.w.close()
        try:
            await self.w.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exists_of(untagged, exists=0):
    """The message count after these untagged responses (EXISTS sets it, EXPUNGE lowers it)."""
    for l in untagged:
        parts = l.split()
        if len(parts) >= 3 and parts[2].upper() == b"EXISTS":
            exists = int(parts[1])
        elif len(parts) >= 3 and parts[2].upper() == b"EXPUNGE":
            exists -= 1
    return exists


async def mailbox_round(c, stats, seq):
    """SELECT, APPEND, NOOP, FETCH, STORE, STORE + EXPUNGE."""
    st, u = await c.cmd("SELECT INBOX")
    exists = exists_of(u)
    seq[0] += 1
    st, u = await c.cmd("APPEND INBOX ()", message(seq[0]))
    stats["appends"] += st == "OK"
    # The server reports the new message (and other sessions' expunges) now or at the next
    # command; message numbers are those it has reported.
    exists = exists_of(u, exists)
    for cmd in (
        "NOOP",
        "FETCH {} (UID FLAGS BODY.PEEK[])",
        "STORE {} +FLAGS (\\Seen)",
        "STORE {} +FLAGS (\\Deleted)",
        "EXPUNGE",
    ):
        if "{}" in cmd:
            if exists == 0:
                continue
            cmd = cmd.format(random.randint(1, exists))
        st, u = await c.cmd(cmd)
        stats["commands"] += 1
        exists = exists_of(u, exists)
        if st != "OK":
            stats["errors"] += 1
            stats["last_error"] = f"{cmd.split()[0]}: {c.last}"
    stats["commands"] += 2


async def mixed_client(port, users, deadline, stats, seq, reuse):
    while time.monotonic() < deadline:
        user, password = random.choice(users)
        try:
            c = await Client.open(port)
            st, _ = await c.cmd(f"LOGIN {quote(user)} {quote(password)}")
            stats["commands"] += 1
            if st != "OK":
                stats["errors"] += 1
                await c.close()
                continue
            stats["logins"] += 1
            await mailbox_round(c, stats, seq)
            while reuse and time.monotonic() < deadline:
                await mailbox_round(c, stats, seq)
            st, _ = await c.cmd("LOGOUT")
            stats["commands"] += 1
            await c.close()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError) as e:
            stats["errors"] += 1
            stats["last_error"] = repr(e)


async def mixed(a):
    users = [tuple(l.split(None, 1)) for l in open(a.users).read().splitlines() if l.strip()]
    stats = {"commands": 0, "logins": 0, "appends": 0, "errors": 0}
    seq = [0]
    start = time.monotonic()
    deadline = start + a.seconds
    await asyncio.gather(
        *(mixed_client(a.port, users, deadline, stats, seq, a.reuse) for _ in range(a.clients))
    )
    took = time.monotonic() - start
    stats.update(
        seconds=round(took, 2),
        commands_per_s=round(stats["commands"] / took, 1),
        logins_per_s=round(stats["logins"] / took, 1),
        appends_per_s=round(stats["appends"] / took, 1),
    )
    return stats


async def fill(a):
    start = time.monotonic()
    per = a.messages // a.clients
    async def one(k):
        c = await Client.open(a.port)
        st, _ = await c.cmd(f"LOGIN {quote(a.user)} {quote(a.password)}")
        assert st == "OK", st
        done = 0
        while done < per:
            batch = min(100, per - done)
            # Pipelined: send a batch, then read the answers.
            tags = []
            for i in range(batch):
                c.n += 1
                tags.append(f"t{c.n}")
                lit = message(k * per + done + i)
                c.w.write(f"t{c.n} APPEND INBOX () {{{len(lit)}+}}\r\n".encode() + lit + b"\r\n")
            await c.w.drain()
            left = set(tags)
            while left:
                l = await c.line()
                t = l.split(b" ", 1)[0].decode()
                if t in left:
                    assert l.split(b" ")[1] == b"OK", l
                    left.discard(t)
            done += batch
        await c.cmd("LOGOUT")
        await c.close()
    await asyncio.gather(*(one(k) for k in range(a.clients)))
    took = time.monotonic() - start
    return {"appended": per * a.clients, "seconds": round(took, 2),
            "appends_per_s": round(per * a.clients / took, 1)}


async def big(a):
    c = await Client.open(a.port)
    st, _ = await c.cmd(f"LOGIN {quote(a.user)} {quote(a.password)}")
    assert st == "OK", st
    t0 = time.monotonic()
    st, u = await c.cmd("SELECT INBOX")
    t1 = time.monotonic()
    st2, f = await c.cmd("UID FETCH 1:* (FLAGS ENVELOPE)")
    t2 = time.monotonic()
    await c.cmd("LOGOUT")
    await c.close()
    return {"messages": exists_of(u), "select_s": round(t1 - t0, 3), "fetch_s": round(t2 - t1, 3),
            "fetched": sum(1 for l in f if b" FETCH " in l), "fetch_status": st2}


def pss_kib(pid):
    """Memory of a process and all its descendants, KiB: the sum of their proportional set
    sizes (a page shared by n processes counts 1/n in each), so shared libraries and shared
    memory count once, unlike a sum of RSS."""
    parents = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                parents[int(p)] = int(stat[1])
            except OSError:
                pass
    tree, changed = {pid}, True
    while changed:
        changed = False
        for p, pp in parents.items():
            if pp in tree and p not in tree:
                tree.add(p)
                changed = True
    total = 0
    for p in tree:
        try:
            for l in open(f"/proc/{p}/smaps_rollup"):
                if l.startswith("Pss:"):
                    total += int(l.split()[1])
        except OSError:
            pass
    return total


async def idle(a):
    users = [tuple(l.split(None, 1)) for l in open(a.users).read().splitlines() if l.strip()]
    before = pss_kib(a.pid)
    open_ = []
    sem = asyncio.Semaphore(50)
    async def one(i):
        user, password = users[i % len(users)]
        async with sem:
            c = await Client.open(a.port)
            st, _ = await c.cmd(f"LOGIN {quote(user)} {quote(password)}")
            assert st == "OK", (st, user)
            await c.cmd("SELECT INBOX")
            c.w.write(b"i IDLE\r\n")
            await c.w.drain()
            await c.line()  # "+ idling"
            open_.append(c)
    start = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(a.connections)))
    took = time.monotonic() - start
    await asyncio.sleep(a.settle)
    after = pss_kib(a.pid)
    for c in open_:
        c.w.write(b"DONE\r\nl LOGOUT\r\n")
    for c in open_:
        await c.close()
    return {"connections": len(open_), "open_s": round(took, 1), "pss_before_kib": before,
            "pss_after_kib": after, "kib_per_connection": round((after - before) / len(open_), 1)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["mixed", "fill", "big", "idle"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--users")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--messages", type=int, default=100000)
    p.add_argument("--connections", type=int, default=5000)
    p.add_argument("--reuse", action="store_true", help="mixed: sign in once per client")
    p.add_argument("--pid", type=int)
    p.add_argument("--settle", type=float, default=2, help="seconds in IDLE before measuring")
    a = p.parse_args()
    out = asyncio.run({"mixed": mixed, "fill": fill, "big": big, "idle": idle}[a.mode](a))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
