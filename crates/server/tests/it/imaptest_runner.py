#!/usr/bin/env python3
"""Run Dovecot imaptest's *scripted tests* against an IMAP server (carepost's test suite).

Dovecot's imaptest (MIT licensed, https://github.com/dovecot/imaptest) ships IMAP compliance
scripts in a small text format: a header (capabilities, connections, messages, state,
ignore_extra_untagged, user N), then command groups written in three ways (`ok cmd`; `cmd`
followed by `ok [prefix]`; `tagN cmd` ... `tagN ok` for pipelining), expected untagged replies
(`*` must, `!` must not, `?` may come), `$variables` bound from the server's replies, `$n`
relative sequence numbers, `$modseqN`, `$!` list directives, `{{{ ... }}}` multi-line
literals, `!ifenv`/`!ifnenv`/`!else`/`!endif`, `!ordered`, `!sleep` and `!output`. This is an
independent Python implementation of that format, written from its description; it contains
no imaptest code.

Differences from imaptest: `$modseqN` binds like any other variable (the shared scripts predate
imaptest's rule that each must exceed the previous by the gap in N: esearch-condstore binds
$modseq3 before $modseq2, which that rule refuses whatever the server answers); literals in commands are always sent as LITERAL+ ones (imaptest needs LITERAL+ for
them too); `user N: $user2` scripts are skipped (there is no second account option); the
capabilities are read once, after signing in; a reply line in a multi-connection script may
omit the connection number (older imaptest versions required that, newer ones the opposite).

Usage:
  imaptest_runner.py --host 127.0.0.1 --port PORT [--tls] --user ADDRESS --password PW \\
      --dir TESTS_DIR [--mailbox imaptest] [--only GROUP ...] [--timeout 10] [--verbose]

Prints PASS/FAIL/SKIP per group file and `SUMMARY pass=N fail=N skip=N`; exits 0 only when
nothing failed. Running a group deletes the account's test mailboxes (`imaptest*`).
"""

import argparse
import base64
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse

# --- IMAP arguments: Atom, String (quoted), Literal, NIL, and Python lists ------------------


class Atom(str):
    pass


class String(str):
    pass


class Literal(String):
    pass


NIL = None   # NIL; the end of an argument list is END
END = object()
UPPER = str.maketrans('abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')
LITERAL = re.compile(r'~?\{([0-9]+)\+?\}\r?\n')
LITERAL_IN_CMD = re.compile(r' (~?)\{([0-9]+)(\+?)\}\r?\n')
VAR_CHARS = re.compile(r'[A-Za-z0-9_]*')
UINT = re.compile(r'[0-9]+\Z')


def cstr(s):
    """The part of a string before any NUL byte."""
    return s.split('\0', 1)[0]


def ci(s):
    """ASCII-only upper case: IMAP compares case-insensitively."""
    return s.translate(UPPER)


class ParseError(Exception):
    pass


def parse_args(text):
    """Parse IMAP arguments; literal data follows its {n} CRLF inline in `text`."""
    root, stack, pos, n = [], [], 0, len(text)
    cur = root
    while True:
        while pos < n and text[pos] == ' ':
            pos += 1
        if pos >= n or text[pos] in '\r\n':
            if stack:
                raise ParseError("missing ')'")
            return root
        c = text[pos]
        if c == '"':
            out, pos = [], pos + 1
            while pos < n and text[pos] != '"':
                pos += text[pos] == '\\' and pos + 1 < n   # skip the escaping backslash
                out.append(text[pos])
                pos += 1
            if pos >= n:
                raise ParseError('missing closing quote')
            cur.append(String(''.join(out)))
            pos += 1
        elif c == '{' or text.startswith('~{', pos):
            m = LITERAL.match(text, pos)
            if not m or m.end() + int(m.group(1)) > n:
                raise ParseError('broken literal')
            pos = m.end() + int(m.group(1))
            cur.append(Literal(text[m.end():pos]))
        elif c == '(':
            stack.append(cur)
            cur.append([])
            cur, pos = cur[-1], pos + 1
        elif c == ')':
            if not stack:
                raise ParseError("unexpected ')'")
            cur, pos = stack.pop(), pos + 1
        else:   # an atom runs to a space or line end, or to ')' inside a list
            end = pos
            while end < n and text[end] not in ' \r\n' and not (text[end] == ')' and stack):
                end += 1
            cur.append(NIL if ci(text[pos:end]) == 'NIL' else Atom(text[pos:end]))
            pos = end


def split_response(resp):
    """(tag, arguments after the tag). Unparsable text falls back to plain atoms."""
    tag, _, rest = resp.partition(' ')
    try:
        return tag, parse_args(rest)
    except ParseError:
        return tag, [Atom(w) for w in rest.split()]


def word_is(args, i, *words):
    return len(args) > i and isinstance(args[i], Atom) and ci(args[i]) in words


def show(s, limit=400):
    """A printable one-line form for a report."""
    try:
        s = s.encode('latin-1').decode('utf-8')
    except UnicodeError:
        pass
    s = s.replace('\r\n', '\\r\\n').replace('\n', '\\n').replace('\r', '\\r')
    s = ''.join(c if ' ' <= c <= '~' or c >= '\xa0' else '\\x%02x' % ord(c) for c in s)
    return s if len(s) <= limit else s[:limit] + '...(%d chars)' % len(s)


def quote(s):
    if any(c in '\r\n' or c > '\x7f' for c in s):
        return '{%d+}\r\n%s' % (len(s), s)
    return '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')

# --- The script file ---------------------------------------------------------------------


NONAUTH, AUTH, CREATED, APPENDED, SELECTED = range(5)
STATES = {'nonauth': NONAUTH, 'auth': AUTH, 'created': CREATED, 'appended': APPENDED,
          'selected': SELECTED}
MUST, MUST_NOT, MAY = '*', '!', '?'
DIRECTIVE = re.compile(r'\$!(unordered(=[0-9]+)?|ordered|noextra|extra|ignore=.*|ban=.*)\Z')


class ScriptError(Exception):
    pass


class Expect:
    """An expected untagged reply: `* ...` (must come), `! ...` (must not), `? ...` (may)."""

    def __init__(self, linenum, existence, text, args):
        self.linenum, self.existence, self.text, self.args = linenum, existence, text, args


class Command:
    def __init__(self, linenum, tagnum, text, reply):
        self.linenum, self.tagnum, self.text, self.reply = linenum, tagnum, text, reply
        self.reply_text = reply[0] if reply else None


class Group:
    """Commands sent together on one connection, and the replies expected for them."""

    def __init__(self, conn=0):
        self.conn, self.commands, self.expects, self.outputs = conn, [], [], []
        self.pending, self.ordered, self.sleep_ms, self.have_bye = 0, False, 0, False


class Script:
    def __init__(self, name, path, mbox):
        self.name, self.path, self.mbox = name, path, mbox
        self.caps, self.connections, self.messages = [], 1, 0   # messages None: all
        self.state, self.ignore_extra, self.users, self.require_user2 = SELECTED, True, {}, False
        self.groups, self.banner_check = [], False


def split_reply(line):
    """Split an optional `tagN` and an optional OK/NO/BAD/"" off a script line."""
    tagnum = 0
    word, sp, rest = line.partition(' ')
    m = re.match(r'tag([0-9]+)\Z', word, re.I)
    if m and sp and int(m.group(1)) > 0:
        tagnum, line = int(m.group(1)), rest
        word, sp, rest = line.partition(' ')
    if word.lower() in ('ok', 'no', 'bad', '""'):
        return tagnum, word.lower().strip('"'), rest
    return tagnum, None, line


def split_conn(line):
    """'3 rest' -> (3, 'rest'); (0, line) without a connection number."""
    m = re.match(r'([0-9]+)(?: |\Z)', line)
    return (int(m.group(1)), line[m.end():]) if m and int(m.group(1)) else (0, line)


def add_default_directives(lst, name, path=(), prev_atom=None):
    """The implicit directives of FETCH, STATUS, LIST and LSUB reply lists."""
    lead = 0
    while lead < len(lst) and isinstance(lst[lead], Atom) and lst[lead].startswith('$!'):
        if not DIRECTIVE.match(lst[lead]):
            raise ScriptError('unknown directive %s' % lst[lead])
        lead += 1
    if not lead and path:
        extra = []
        if path == (1,) and name in ('list', 'lsub'):
            extra = ['$!unordered']
        elif path == (2,) and name in ('status', 'fetch'):
            extra = ['$!unordered=2']
        elif len(path) == 2 and path[0] == 2 and name == 'fetch' and prev_atom == 'flags':
            extra = ['$!unordered', '$!noextra', '$!ignore=\\recent',
                     '$!ignore=$HasAttachment', '$!ignore=$HasNoAttachment']
        lst[0:0] = [Atom(d) for d in extra]
    prev = None
    for i, a in enumerate(lst):
        if isinstance(a, Atom) or a is NIL:
            prev = str(a).lower()
        elif isinstance(a, list):
            add_default_directives(a, name, path + (i,), prev)


class ScriptParser:
    def __init__(self, script):
        self.s, self.group, self.ifenv, self.skip = script, None, [], False

    def parse_file(self):
        with open(self.s.path, 'rb') as f:
            lines = f.read().decode('latin-1').split('\n')
        if lines[-1] == '':
            lines.pop()
        header, multi, binary, start_pos, last_end, start_line = True, None, False, 0, 0, 0
        for linenum, line in enumerate(lines, 1):
            if multi is None:
                start_line, prefix = linenum, ''
                if line == '' or line.startswith('#'):
                    header = header and line != ''
                    continue
            elif not line.startswith('}}}'):   # inside {{{ ... }}}: a literal's text
                multi += line if binary else line.rstrip('\r')
                last_end = len(multi)
                multi += '\n' if binary else '\r\n'
                continue
            else:   # the literal ends (without the last line break): put {size} before it
                body = multi[start_pos:last_end]
                prefix = '%s%s{%d}\r\n%s' % (multi[:start_pos], '~' * binary, len(body), body)
                line = line[3:]
            if line.endswith('{{{'):
                binary = line.endswith('~{{{')
                multi = prefix + line[:-4 if binary else -3]
                start_pos = last_end = len(multi)
                continue
            line, multi = prefix + line, None
            try:
                self.header_line(line) if header else self.command_line(start_line, line)
            except (ScriptError, ParseError) as e:
                raise ScriptError('line %d: %s' % (linenum, e))
        if multi is not None:
            raise ScriptError('multi-line literal at line %d not ended' % start_line)
        if self.group is None or self.group.pending or self.ifenv:
            raise ScriptError('no commands' if self.group is None else
                              'missing a tagged reply at the end' if self.group.pending else
                              '!ifenv without !endif')
        if not any(g.have_bye or any(c.text.lower() == 'logout' for c in g.commands)
                   for g in self.s.groups if g.commands):
            self.s.groups.append(Group())   # end with a LOGOUT, as imaptest does
            self.s.groups[-1].commands.append(Command(0, 0, 'logout', [Atom('ok')]))

    def header_line(self, line):
        s = self.s
        key, sep, value = line.partition(':')
        if not sep:
            raise ScriptError("missing ':' in header")
        key, value = key.rstrip(' ').lower(), value.lstrip(' ')
        number = int(re.match(r'[0-9]*', value).group() or 0)
        m = re.match(r'user ([0-9]+)\Z', key)
        if key == 'capabilities':
            s.caps = value.split()
        elif key == 'connections' and 0 < number <= 100:
            s.connections = number
        elif key == 'ignore_extra_untagged':
            s.ignore_extra = value.startswith('y')
        elif m and 0 < int(m.group(1)) <= 100:
            s.require_user2 |= value in ('$user2', '${user2}')
            s.users[int(m.group(1)) - 1] = value
        elif key == 'messages':
            s.messages = None if value == 'all' else number
        elif key == 'state' and value.lower() in STATES:
            s.state = STATES[value.lower()]
        else:
            raise ScriptError('bad header line %r' % line)

    def command_line(self, linenum, line):
        if self.preprocess(line) or self.skip:
            return
        s, g = self.s, self.group
        if g is not None:
            if line.startswith('!sleep '):
                g.sleep_ms = parse_interval_ms(line[7:])
                return
            if line.startswith('!output '):
                return g.outputs.append(line[8:])
            if line == '!ordered':
                g.ordered = True
                return
            if line[:2] in ('* ', '! ', '? '):
                return self.add_expect(g, linenum, line[0], line[2:])
            if g.pending:
                conn, rest = split_conn(line) if s.connections > 1 else (0, line)
                tagnum, reply, _ = split_reply(rest)
                if reply is not None:
                    # imaptest's newer parser wants the connection number on reply lines,
                    # older ones took none (the append script has such a line): allow both
                    if conn and conn - 1 != g.conn:
                        raise ScriptError('reply for the wrong connection')
                    return self.finish_command(g, tagnum, rest)
        if g is None or g.pending == 0:
            g = self.group = Group()
            s.groups.append(g)
        if s.connections > 1:
            conn, line = split_conn(line)
            if not 0 < conn <= 100:
                raise ScriptError('missing connection number')
            if g.commands and g.conn != conn - 1:
                raise ScriptError('all pipelined commands must use the same connection')
            g.conn, s.connections = conn - 1, max(s.connections, conn)
        tagnum, reply, line = split_reply(line)
        if tagnum == 0 and g.pending:
            raise ScriptError('missing reply for the previous command')
        if tagnum and any(c.tagnum == tagnum for c in g.commands):
            raise ScriptError('tag reused within a command group')
        if not g.commands and line[:2] in ('* ', '! ', '? '):
            s.banner_check = True   # a group without a command: replies it waits for
            return self.add_expect(g, linenum, line[0], line[2:])
        g.pending += reply is None
        g.commands.append(Command(linenum, tagnum, line, None if reply is None else [Atom(reply)]))

    def preprocess(self, line):
        """!ifenv / !ifnenv / !else / !endif; True if the line was one of them."""
        if line.startswith(('!ifenv ', '!ifnenv ')):
            self.ifenv.append([self.skip, False])
            if (line.split(' ', 1)[1] in os.environ) != line.startswith('!ifenv '):
                self.skip = True
        elif line in ('!else', '!endif'):
            if not self.ifenv or (line == '!else' and self.ifenv[-1][1]):
                raise ScriptError('unexpected %s' % line)
            if line == '!endif':
                self.skip = self.ifenv.pop()[0]
            else:
                self.ifenv[-1][1] = True
                self.skip = self.skip if self.ifenv[-1][0] else not self.skip
        else:
            return False
        return True

    def finish_command(self, g, tagnum, line):
        cmd = next((c for c in g.commands if c.tagnum == tagnum), None)
        if cmd is None or cmd.reply is not None:
            raise ScriptError('reply for an unknown tag or for a command that has one')
        args = parse_args(line)
        cmd.reply, cmd.reply_text = (args if tagnum == 0 else args[1:]), line
        g.pending -= 1

    def add_expect(self, g, linenum, existence, text):
        args = parse_args(text)
        name = args[0] if args and isinstance(args[0], Atom) else ''
        if name[:1] == '$' or name[:1].isdigit():   # <seq> <reply name>
            name = args[1] if len(args) > 1 and isinstance(args[1], Atom) else ''
        add_default_directives(args, name.lower())
        if ci(name).startswith('BYE') and existence != MUST_NOT:
            if existence == MAY:
                raise ScriptError('"? BYE" is not supported')
            g.have_bye = True
        g.expects.append(Expect(linenum, existence, existence + ' ' + text, args))


def parse_interval_ms(text):
    m = re.match(r'\s*([0-9]+)\s*(ms|msecs?|s|secs?|m|mins?|)\s*\Z', text)
    if not m:
        raise ScriptError('invalid !sleep value %r' % text)
    unit = m.group(2)
    return int(m.group(1)) * (1000 if unit[:1] == 's' else 60000 if unit[:1] == 'm' and
                              not unit.startswith('ms') else 1)

# --- The mbox whose messages are appended ------------------------------------------------


MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
FROM_LINE = re.compile(
    r'From (?:"[^"]*"\S*|\S*) +[A-Za-z]{3},? +([A-Za-z]{3}) +([0-9]{1,2}) ([0-9]{2}):([0-9]{2})'
    r'(?::([0-9]{2}))? (?:([+-][0-9]{4}) |[A-Za-z]+ )?([0-9]{4})(?: ([+-][0-9]{4}))?')


def from_line_date(line):
    """The INTERNALDATE in an mbox From_ line, as an IMAP date-time; None if not one."""
    m = FROM_LINE.match(line)
    if not m or m.group(1).title() not in MONTHS:
        return None
    mon = MONTHS.index(m.group(1).title())
    day, hh, mm, ss, year = (int(m.group(i) or 0) for i in (2, 3, 4, 5, 7))
    tz = m.group(6) or m.group(8)
    if tz:
        offset = (1 if tz[0] == '+' else -1) * (int(tz[1:3]) * 60 + int(tz[3:5]))
    else:   # no zone: local time
        offset = time.localtime(time.mktime((year, mon + 1, day, hh, mm, ss, 0, 0, -1)))
        offset = offset.tm_gmtoff // 60
    return '%02d-%s-%04d %02d:%02d:%02d %s%02d%02d' % (
        day, MONTHS[mon], year, hh, mm, ss, '+' if offset >= 0 else '-',
        abs(offset) // 60, abs(offset) % 60)


class Mbox:
    """The messages (CRLF text, date-time) of an mbox, taken in turn; wraps at the end."""

    def __init__(self, path):
        with open(path, 'rb') as f:
            lines = f.read().decode('latin-1').split('\n')
        if lines[-1] == '':
            lines.pop()
        self.messages, self.next, body, date = [], 0, None, None
        for line in lines:
            line = line[:-1] if line.endswith('\r') else line
            d = from_line_date(line) if line.startswith('From ') else None
            if d and body != []:   # a From_ line right after another one is message text
                if body:
                    self.messages.append((''.join(body), date))
                body, date = [], d
            elif body is None:
                raise ScriptError('%s: not an mbox file' % path)
            else:
                body.append(line + '\r\n')   # the blank line before a From_ line included
        if body:
            self.messages.append((''.join(body), date))
        if not self.messages:
            raise ScriptError('%s: empty mbox' % path)

    def take(self):
        self.next += 1
        return self.messages[(self.next - 1) % len(self.messages)]

# --- A connection to the server ----------------------------------------------------------


class ServerError(Exception):
    """No (or a failed) reply from the server."""


class Disconnected(ServerError):
    pass


class Connection:
    counter = 0

    def __init__(self, opts):
        Connection.counter += 1
        self.gid, self.tagn, self.opts = Connection.counter, 0, opts
        self.buf, self.exists, self.closed, self.seen_bye = b'', 0, False, False
        self.mailbox = opts.mailbox   # where a bare `append` goes
        try:
            self.sock = socket.create_connection((opts.host, opts.port), timeout=opts.timeout)
            if opts.tls:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                self.sock = ctx.wrap_socket(self.sock, server_hostname=opts.host)
        except socket.timeout:
            raise ServerError('timeout connecting')
        except OSError as e:
            raise ServerError('connect failed: %s' % e)
        self.banner = self.read_response()

    def close(self):
        if not self.closed:
            self.closed = True
            self.sock.close()

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise ServerError('timeout: no reply within %g s' % self.opts.timeout)
        except OSError:
            data = b''
        if not data:
            self.close()
            raise Disconnected('connection closed by the server')
        self.buf += data

    def _read_line(self):
        while b'\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\n', 1)
        return line[:-1] if line.endswith(b'\r') else line

    def read_response(self):
        """One response as latin-1 text, each literal's data inline after its {n} CRLF."""
        parts = [self._read_line()]
        m = re.search(rb'\{([0-9]+)\}\Z', parts[-1])
        while m:
            while len(self.buf) < int(m.group(1)):
                self._fill()
            parts += [b'\r\n' + self.buf[:int(m.group(1))], None]
            self.buf = self.buf[int(m.group(1)):]
            parts[-1] = self._read_line()
            m = re.search(rb'\{([0-9]+)\}\Z', parts[-1])
        text = b''.join(parts).decode('latin-1')
        self.log('S', text)
        return text

    def log(self, who, text):
        if self.opts.verbose:
            print('    [%d] %s: %s' % (self.gid, who, show(text, 300)), file=sys.stderr)

    def send_command(self, text):
        """Send `TAG text`; returns the tag. Literals are sent as LITERAL+ ones (`{n+}`)."""
        self.tagn += 1
        tag, out, pos = '%d.%d' % (self.gid, self.tagn), [], 0
        m = LITERAL_IN_CMD.search(text)
        while m:   # a literal's data is copied, not searched
            end = m.end() + int(m.group(2))
            out.append('%s %s{%s+}\r\n%s' % (text[pos:m.start()], m.group(1), m.group(2),
                                             text[m.end():end]))
            pos, m = end, LITERAL_IN_CMD.search(text, end)
        self._send('%s %s%s\r\n' % (tag, ''.join(out), text[pos:]))
        return tag

    def _send(self, text):
        self.log('C', text)
        try:
            self.sock.sendall(text.encode('latin-1'))
        except OSError as e:
            self.close()
            raise Disconnected('send failed: %s' % e)

    def run(self, text, allow_no=False, on_untagged=None):
        """Run a command to its end (setup); returns the parsed untagged replies."""
        tag, untagged = self.send_command(text), []
        while True:
            rtag, args = split_response(self.read_response())
            if rtag == '*':
                on_untagged and on_untagged(self, args)
                untagged.append(args)
            elif rtag == tag:
                if word_is(args, 0, 'OK') or (allow_no and word_is(args, 0, 'NO')):
                    return untagged
                raise ServerError('%s failed: %s %s' % (show(text.split('\r')[0], 120), tag,
                                                        show(' '.join(map(str, args)))))

# --- Matching replies with the expected ones ---------------------------------------------


FULL = 1 << 30   # matched completely (otherwise: how many arguments matched)


class Matcher:
    def __init__(self):
        self.vars, self.seqmap = {}, []

    def snapshot(self):
        return dict(self.vars)

    def restore(self, snap):
        self.vars = dict(snap)

    def relative_seq(self, n):
        """$n: the current sequence number of the n-th message at the start of the group."""
        if n == 0 or n > len(self.seqmap):
            return '<zero seq>' if n == 0 else '<out of range>'
        return str(self.seqmap[n - 1]) if self.seqmap[n - 1] else '<expunged>'

    def expunged(self, seq):
        for i in range(seq - 1, len(self.seqmap)):
            if self.seqmap[i] >= seq:
                self.seqmap[i] = 0 if self.seqmap[i] == seq else self.seqmap[i] - 1

    @staticmethod
    def var_name(text, i):
        """The variable name after a '$': (name or None if '}' is missing, end index)."""
        if text.startswith('{', i):
            end = text.find('}', i)
            return (None, len(text)) if end < 0 else (text[i + 1:end], end + 1)
        m = VAR_CHARS.match(text, i)
        return m.group(), m.end()

    def known(self, name):
        if UINT.match(name):
            return self.relative_seq(int(name))
        return name[5:] if name.startswith('case:') else self.vars.get(name)

    def expand(self, text, keep_unset=False):
        """Expand the $variables of a command (with keep_unset: of a line for a report)."""
        out, i = [], 0
        while i < len(text):
            if text[i] != '$' or i == len(text) - 1:
                out.append(text[i])
                i += 1
            elif text[i + 1] == '$':
                out.append('$')
                i += 2
            elif text[i + 1] == '!':   # a directive: dropped up to the next space
                i = text.find(' ', i) % (len(text) + 1)
            else:
                name, j = self.var_name(text, i + 1)
                value = None if name is None or name.startswith('case:') else self.known(name)
                if value is None and not keep_unset:
                    raise KeyError("missing '}'" if name is None else '$' + name)
                out.append(text[i:j] if value is None else value)
                i = j
        return ''.join(out)

    def expand_input(self, pat, inp):
        """Match a pattern with $variables against a string from the server, binding unset
        variables. Returns (expanded pattern or None on a mismatch, case-insensitive)."""
        out, icase, i, j = [], True, 0, 0
        while i < len(pat):
            if pat[i] != '$' or pat.startswith('$$', i):
                if pat.startswith('$$', i):
                    lit, i = '$', i + 2
                else:
                    k = pat.find('$', i + 1) % (len(pat) + 1)
                    lit, i = pat[i:k], k
                if ci(inp[j:j + len(lit)]) != ci(lit):
                    return None, icase
                out.append(lit)
                j += len(lit)
                continue
            name, i = self.var_name(pat, i + 1)
            if name is None:
                return None, icase
            icase = icase and not name.startswith('case:')
            value = self.known(name) if name else None
            if value is None:
                raw = inp[j:self.var_end(pat, i, inp, j)]
                if not name:   # a bare '$' matches anything
                    value = raw
                else:
                    value = self.vars[name] = raw
            out.append(value)
            if inp[j:j + len(value)] != value:
                return None, icase
            j += len(value)
        return ''.join(out), icase

    def var_end(self, pat, i, inp, j):
        """Where an unset variable's value ends: at the first input character equal to what
        follows in the pattern (the first character of a following variable's value)."""
        if i >= len(pat):
            return len(inp)
        stop = pat[i]
        if stop == '$' and not pat.startswith('$$', i):
            name, _ = self.var_name(pat, i + 1)
            stop = (self.known(name) or '') if name else ''
            if not stop:
                return j
        k = ci(inp).find(ci(stop[0]), j)
        return len(inp) if k < 0 else k

    def match_args(self, match, args, prefix=False):
        """FULL if `args` match, else how many leading ones did. With `prefix`, more
        arguments may follow and the last pattern only needs to be a prefix."""
        ai = 0
        for mi, m in enumerate(match):
            a = args[ai] if ai < len(args) else END
            if m is NIL or isinstance(m, list):
                if m is NIL and a is not NIL or isinstance(m, list) and not isinstance(a, list):
                    return mi
                sub = FULL if m is NIL else self.match_list(m, a)
                if sub != FULL:
                    return mi + sub
            elif m == '$]':   # skip up to and including an atom with ']'
                while ai < len(args) and isinstance(args[ai], Atom) and ']' not in args[ai]:
                    ai += 1
            elif not (m == '$' and isinstance(a, list)):   # '$' also matches a list
                if not isinstance(a, str):
                    return mi
                expanded, icase = self.expand_input(m, a)
                if expanded is None:
                    return mi
                # As in imaptest, values are C strings: a NUL byte ends them (append-binary's
                # expected literal is one byte short past its leading NUL).
                got, want = (cstr(ci(a)), cstr(ci(expanded))) if icase else (cstr(a), cstr(expanded))
                if not (got.startswith(want) if prefix and mi == len(match) - 1 else got == want):
                    return mi
            ai += 1
        return FULL if prefix or ai >= len(args) else len(match)

    def match_list(self, match, args):
        unordered, chain, noextra, ignores, bans, k = False, 1, None, [], [], 0
        while k < len(match) and isinstance(match[k], Atom) and match[k].startswith('$!'):
            d = match[k][2:]
            if d.startswith('unordered'):
                unordered, noextra = True, False if noextra is None else noextra
                chain = int(d[10:]) if d.startswith('unordered=') else chain
            elif d == 'ordered':
                unordered = False
            elif d in ('extra', 'noextra'):
                noextra = d == 'noextra'
            else:
                (ignores if d.startswith('ignore=') else bans).append(ci(d.split('=', 1)[1]))
            k += 1
        match = match[k:]
        if not unordered:
            return self.match_args(match, args)
        if chain < 1 or len(args) % chain:
            return 0
        matched = set()
        for n, k in enumerate(range(0, len(match), chain)):   # find each chain anywhere
            for i in range(0, len(args), chain):
                snap = self.snapshot()
                if self.match_args(match[k:k + chain], args[i:i + chain]) == FULL:
                    matched.add(i)
                    break
                self.restore(snap)
            else:
                return n
        extra = [ci(args[i]) for i in range(0, len(args), chain)
                 if i not in matched and isinstance(args[i], str)]
        if any(e not in ignores for e in extra) if noextra is not False else any(
                e in bans for e in extra):
            return len(match) // chain
        return FULL

# --- Running one script ------------------------------------------------------------------


class Abort(Exception):
    pass


class GroupState:
    def __init__(self, g):
        self.found, self.best = [False] * len(g.expects), [(-1, None)] * len(g.expects)
        self.mismatches, self.first_extra, self.replies, self.sent = 0, None, [], []


class TestRun:
    def __init__(self, opts, script):
        self.opts, self.s = opts, script
        self.m, self.conns, self.failures, self.mbox = Matcher(), [], [], None

    def run(self):
        """(None, []) when it passed, else (reason, detail lines)."""
        try:
            if self.s.state >= APPENDED or any(c.text.lower().startswith(('append', 'replace'))
                                               for g in self.s.groups for c in g.commands):
                self.mbox = Mbox(self.s.mbox)
            self.setup()
            for g in self.s.groups:
                self.run_group(g)
        except (ScriptError, ServerError) as e:
            self.failures.append(('setup failed: %s' % e, []))
        except Abort:
            pass
        finally:
            for c in self.conns:
                c.close()
        if not self.failures:
            return None, []
        reason, details = self.failures[0]
        if len(self.failures) > 1:
            reason += ' (+%d more failures)' % (len(self.failures) - 1)
        for r, d in self.failures[1:]:
            details = details + ['also: ' + r] + (['  ' + x for x in d] if self.opts.verbose
                                                  else [])
        return reason, details

    def setup(self):
        """Log in, delete the old test mailboxes, create, append and select, per `state`."""
        s, opts, mailbox = self.s, self.opts, self.opts.mailbox
        self.m.vars.update(mailbox=mailbox, mailbox_url=mailbox_url(mailbox))
        for i in range(s.connections):
            self.conns.append(Connection(opts))
            if not ci(self.conns[-1].banner).startswith(('* OK', '* PREAUTH')):
                raise ServerError('bad greeting %s' % show(self.conns[-1].banner))
            user, sfx = s.users.get(i, opts.user), '' if i == 0 else str(i + 1)
            self.m.vars.update({'user' + sfx: user, 'username' + sfx: user.split('@')[0],
                                'domain' + sfx: user.split('@', 1)[1] if '@' in user else opts.host,
                                'password' + sfx: opts.password})
        if s.state == NONAUTH:
            return
        for i, c in enumerate(self.conns):
            if not ci(c.banner).startswith('* PREAUTH'):
                c.run('LOGIN %s %s' % (quote(s.users.get(i, opts.user)), quote(opts.password)))
        c0 = self.conns[0]
        for cmd in ('LIST', 'LSUB'):
            names = [a[3] for a in c0.run('%s "" %s' % (cmd, quote(mailbox + '*')))
                     if word_is(a, 0, cmd) and len(a) > 3 and isinstance(a[3], str)]
            for name in sorted(names, key=ci, reverse=True):
                c0.run(('DELETE ' if cmd == 'LIST' else 'UNSUBSCRIBE ') + quote(name), True)
        if s.state == AUTH:
            return
        if ci(mailbox) != 'INBOX':
            c0.run('CREATE ' + quote(mailbox))
        if s.state == CREATED:
            return
        for _ in range(len(self.mbox.messages) if s.messages is None else s.messages):
            c0.run(self.append_text('APPEND', quote(mailbox), True)[0])
        if s.state == APPENDED:
            return
        for c in self.conns:
            c.run('SELECT ' + quote(mailbox), on_untagged=self.track)

    def append_text(self, verb, args_text, with_date):
        """APPEND (or REPLACE) of the next mbox message: (command, text for a report)."""
        body, date = self.mbox.take()
        head = '%s %s%s {%d}' % (verb, args_text, ' "%s"' % date if with_date else '', len(body))
        return head + '\r\n' + body, head + ' <message %d of the mbox>' % self.mbox.next

    def run_group(self, g):
        conn, st = self.conns[g.conn], GroupState(g)
        self.m.seqmap = list(range(1, conn.exists + 1))
        logout = g.have_bye or any(c.text.lower() == 'logout' or c.linenum == 0
                                   for c in g.commands)
        pending, first_tag = {}, None
        try:
            if conn.closed:
                raise Disconnected('connection %d is already closed' % (g.conn + 1))
            for cmd in g.commands:
                try:
                    text = self.m.expand(cmd.text)
                except KeyError as e:
                    self.fail(g, st, 'uninitialized variable: %s' % e.args[0], cmd=cmd)
                    raise Abort()
                tag, shown = self.send_test_command(conn, text)
                st.sent.append((cmd, tag, shown))
                pending[tag], first_tag = cmd, first_tag or tag
            if g is self.s.groups[0] and self.s.banner_check and not g.commands:
                st.replies.append(conn.banner)   # the first group checks the greeting
                self.untagged(conn, g, st, conn.banner, None, logout)
            while pending or (not g.commands and not all(
                    f or e.existence != MUST for f, e in zip(st.found, g.expects))):
                try:
                    resp = conn.read_response()
                except Disconnected:
                    if not (g.have_bye and conn.seen_bye):
                        raise
                    for cmd in pending.values():   # the BYE ended the commands
                        if cmd.reply != [Atom('')]:
                            self.fail(g, st, 'disconnected after BYE, so the tagged reply %s '
                                      'never came (only "" allowed)' % cmd.reply_text, cmd=cmd)
                    break
                st.replies.append(resp)
                tag = resp.split(' ', 1)[0]
                if tag == '+':
                    pass   # literals are LITERAL+ ones; nothing waits for a continuation
                elif tag == '*':
                    self.untagged(conn, g, st, resp, first_tag, logout)
                elif tag in pending:
                    self.tagged(g, st, pending.pop(tag), tag, split_response(resp)[1], resp)
                else:
                    self.fail(g, st, 'reply with an unknown tag: %s' % show(resp, 200))
        except ServerError as e:
            if g.commands or isinstance(e, Disconnected):
                self.fail(g, st, str(e))
                raise Abort()
            # a group without commands waited in vain: report what did not come
        self.finish_group(g, st)

    def send_test_command(self, conn, text):
        low = text.lower()
        if low == 'append':   # the next mbox message to the selected mailbox
            text, shown = self.append_text('APPEND', quote(conn.mailbox), True)
            return conn.send_command(text), shown
        for verb in ('append ', 'replace ', 'uid replace '):
            if low.startswith(verb) and not has_body(text[len(verb):], verb != 'append '):
                text, shown = self.append_text(text[:len(verb) - 1], text[len(verb):], False)
                return conn.send_command(text), shown
        word, _, rest = text.partition(' ')
        if word.lower() in ('select', 'examine'):
            try:
                conn.mailbox = next(a for a in parse_args(rest)[:1] if isinstance(a, str))
            except (ParseError, StopIteration):
                pass
        return conn.send_command(text), text

    def untagged(self, conn, g, st, resp, first_tag, logout):
        args = split_response(resp)[1]
        if g.expects or not (self.s.ignore_extra or logout):
            self.match_untagged(g, st, resp, args, first_tag)
        self.track(conn, args)

    def match_untagged(self, g, st, resp, args, first_tag):
        prefix, found_some = word_is(args, 0, 'OK', 'NO', 'BAD', 'BYE'), False
        for i, e in enumerate(g.expects):
            if st.found[i]:
                continue
            snap = self.m.snapshot()
            if first_tag:
                self.m.vars['tag'] = first_tag   # $tag: the tag of the group's first command
            score = self.m.match_args(e.args, args, prefix)
            self.m.vars.pop('tag', None)
            if score == FULL:
                if e.existence == MUST_NOT:
                    return self.fail(g, st, 'line %d: a reply that must not come: %s'
                                     % (e.linenum, show(resp, 200)), expect=e)
                st.found[i] = found_some = True
                if g.ordered:
                    break
                continue
            self.m.restore(snap)
            if score > st.best[i][0]:
                st.best[i] = (score, resp)
            if g.ordered and e.existence == MUST:
                break
        if not found_some:
            st.mismatches += 1
            if not self.s.ignore_extra and st.first_extra is None:
                st.first_extra = resp

    def tagged(self, g, st, cmd, tag, args, resp):
        self.m.vars['tag'] = tag
        ok = self.m.match_args(cmd.reply, args, prefix=True) == FULL
        self.m.vars.pop('tag')
        if not ok:
            want = cmd.reply_text.upper() if cmd.reply_text in ('ok', 'no', 'bad') else \
                cmd.reply_text
            self.fail(g, st, 'line %d: expected tagged %s, got: %s'
                      % (cmd.linenum, show(want, 80), show(resp, 200)), cmd=cmd)

    def track(self, conn, args):
        """Keep the message count, the $n sequence map and the BYE state up to date."""
        if len(args) > 1 and isinstance(args[0], Atom) and UINT.match(args[0]):
            if word_is(args, 1, 'EXISTS'):
                conn.exists = int(args[0])
            elif word_is(args, 1, 'EXPUNGE'):
                conn.exists = max(0, conn.exists - 1)
                self.m.expunged(int(args[0]))
        elif word_is(args, 0, 'VANISHED') and len(args) == 2 and isinstance(args[1], Atom):
            conn.exists = max(0, conn.exists - count_set(args[1]))
        elif word_is(args, 0, 'BYE'):
            conn.seen_bye = True

    def finish_group(self, g, st):
        missing = [i for i, e in enumerate(g.expects) if e.existence == MUST and not st.found[i]]
        if missing:
            e = g.expects[missing[0]]
            self.fail(g, st, 'line %d: missing %d untagged repl%s (%d others came), first: %s'
                      % (e.linenum, len(missing), 'y' if len(missing) == 1 else 'ies',
                         st.mismatches, show(e.text, 150)), expect=e, best=st.best[missing[0]][1])
        if st.first_extra is not None:
            self.fail(g, st, '%d unexpected untagged replies, first: %s'
                      % (st.mismatches, show(st.first_extra, 150)))
        for out in g.outputs:
            print('    output: ' + self.m.expand(out, keep_unset=True))
        time.sleep(g.sleep_ms / 1000.0)

    def fail(self, g, st, reason, cmd=None, expect=None, best=None):
        """Record a failure with the group's commands and the server's replies so far."""
        details = ['line %d, connection %d: C: %s %s' % (c.linenum, g.conn + 1, tag, show(sent))
                   for c, tag, sent in st.sent or [(c, '', c.text) for c in g.commands]]
        if cmd is not None and cmd.reply_text is not None:
            details.append('expected tagged: %s' % show(cmd.reply_text, 200))
        if expect is not None:
            expanded = self.m.expand(expect.text, keep_unset=True)
            details.append('expected: %s' % show(expect.text, 1000))
            if expanded != expect.text:
                details.append('expanded: %s' % show(expanded, 1000))
            if best:
                details.append('closest:  %s' % show(best, 1000))
        details.append('server replies:' if st.replies else 'server replies: (none)')
        details += ['  S: ' + show(r, 300) for r in st.replies[:40]]
        if len(st.replies) > 40:
            details.append('  ... %d more' % (len(st.replies) - 40))
        self.failures.append((reason, details))


def has_body(args_text, replace):
    """Whether APPEND/REPLACE arguments carry the message already (a literal or CATENATE)."""
    try:
        args = parse_args(args_text)
    except ParseError:
        return False
    i = 1 if replace else 0
    if i >= len(args):
        return False
    i += i + 1 < len(args) and isinstance(args[i + 1], list)   # flags
    i += i + 1 < len(args) and type(args[i + 1]) is String      # date-time
    return i + 1 < len(args) and (isinstance(args[i + 1], Literal) or word_is(args, i + 1,
                                                                              'CATENATE'))


def count_set(text):
    n = 0
    for lo, _, hi in (part.partition(':') for part in text.split(',')):
        if UINT.match(lo) and (not hi or UINT.match(hi)):
            n += abs(int(hi or lo) - int(lo)) + 1
    return n


def mailbox_url(name):
    def utf7(m):
        b64 = m.group(1).replace(',', '/')
        return base64.b64decode(b64 + '=' * (-len(b64) % 4)).decode('utf-16-be')
    name = re.sub(r'&([A-Za-z0-9+,]+)-', utf7, name).replace('&-', '&')
    return urllib.parse.quote(name, safe="/!$&'()*+,=:@-._~")

# --- Main ---------------------------------------------------------------------------------


def server_capabilities(opts):
    """The CAPABILITY list after signing in (servers advertise more then)."""
    c = Connection(opts)
    try:
        c.run('LOGIN %s %s' % (quote(opts.user), quote(opts.password)))
        caps = [ci(w) for a in c.run('CAPABILITY') if word_is(a, 0, 'CAPABILITY')
                for w in a[1:] if isinstance(w, Atom)]
        c.run('LOGOUT')
        return caps
    finally:
        c.close()


def run_group_file(opts, name, caps):
    """('PASS'|'FAIL'|'SKIP', reason, detail lines) for one script file."""
    path = os.path.join(opts.dir, name)
    mbox = path + '.mbox' if os.path.exists(path + '.mbox') else os.path.join(opts.dir,
                                                                             'default.mbox')
    script = Script(name, path, mbox)
    try:
        ScriptParser(script).parse_file()
    except ScriptError as e:
        return 'FAIL', 'script error: %s' % e, []
    missing = [c for c in script.caps if ci(c) not in caps]
    if missing or script.require_user2:
        return 'SKIP', 'needs %s' % (' '.join(missing) or 'a second user ($user2)'), []
    reason, details = TestRun(opts, script).run()
    return ('PASS', '', []) if reason is None else ('FAIL', reason, details)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--tls', action='store_true', help='implicit TLS (certificate not verified)')
    ap.add_argument('--user', required=True)
    ap.add_argument('--password', required=True)
    ap.add_argument('--dir', required=True, help='directory of imaptest script files')
    ap.add_argument('--mailbox', default='imaptest')
    ap.add_argument('--only', nargs='+', metavar='GROUP', help='run only these groups')
    ap.add_argument('--timeout', type=float, default=10.0, help='seconds to wait for a reply')
    ap.add_argument('--verbose', action='store_true',
                    help='trace the protocol on stderr and detail every failure')
    opts = ap.parse_args()
    names = sorted(n for n in os.listdir(opts.dir) if not n.startswith('.') and
                   not n.endswith('.mbox') and os.path.isfile(os.path.join(opts.dir, n)))
    if opts.only:
        if set(opts.only) - set(names):
            ap.error('no such group: %s' % ' '.join(sorted(set(opts.only) - set(names))))
        names = [n for n in names if n in opts.only]
    try:
        caps = server_capabilities(opts)
    except ServerError as e:
        print('cannot read the server capabilities: %s' % e)
        return 2
    counts = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    for name in names:
        status, reason, details = run_group_file(opts, name, caps)
        counts[status] += 1
        print('%s %s%s' % (status, name, ': ' + reason if reason else ''))
        for line in details:
            print('    ' + line)
        sys.stdout.flush()
    print('SUMMARY pass=%(PASS)d fail=%(FAIL)d skip=%(SKIP)d' % counts)
    return 0 if counts['FAIL'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
