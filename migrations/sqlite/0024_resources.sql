-- Rooms and equipment (CalDAV resources, RFC 6638 CUTYPE=ROOM/RESOURCE): a calendar user with
-- an address of the organization (claimed in addresses, kind 'resource', no account) that
-- books itself when invited, by the rules kept here. Kept in step with
-- ../postgres/0024_resources.sql.

-- bookable_by: 'everyone', 'department' (the resource's department subtree) or 'role:NAME'.
-- max_minutes: the longest meeting it takes (NULL: any); window_days: how far ahead it may
-- be booked. lock_seq is bumped by every booking decision: the update takes the row's lock,
-- so two decisions for one resource never run side by side.
CREATE TABLE calendar_resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL UNIQUE REFERENCES addresses(address),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    department_id INTEGER REFERENCES departments(id),
    capacity INTEGER,
    bookable_by TEXT NOT NULL,
    max_minutes INTEGER,
    window_days INTEGER NOT NULL,
    lock_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Who approves the bookings of a resource by hand (none: it answers by itself).
CREATE TABLE resource_delegates (
    resource_id INTEGER NOT NULL REFERENCES calendar_resources(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    PRIMARY KEY (resource_id, account_id)
);

-- The resource's answer to each meeting it was invited to, one per organizer and UID (a UID
-- someone else also uses is their meeting, not this one). status: accepted, pending (waits
-- for a delegate) or declined, with the reason told to the organizer; decided_by names the
-- delegate who answered by hand ('' when the resource answered by itself). fingerprint is
-- what of the meeting a booking depends on (its instances' times), so a re-save that moves
-- nothing keeps the answer.
CREATE TABLE resource_bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id INTEGER NOT NULL REFERENCES calendar_resources(id),
    organizer_id INTEGER NOT NULL REFERENCES accounts(id),
    uid TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    summary TEXT NOT NULL,
    starts_at INTEGER,
    ends_at INTEGER,
    fingerprint TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (resource_id, organizer_id, uid)
);

-- The time each accepted or pending booking takes, one row per instance (seconds), so a
-- conflict is one indexed range query.
CREATE TABLE resource_slots (
    booking_id INTEGER NOT NULL REFERENCES resource_bookings(id),
    resource_id INTEGER NOT NULL REFERENCES calendar_resources(id),
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL
);
CREATE INDEX resource_slots_time ON resource_slots(resource_id, starts_at);
CREATE INDEX resource_slots_booking ON resource_slots(booking_id);
