-- A calendar's time zone (CalDAV calendar-timezone, RFC 4791 section 5.2.2): the VCALENDAR
-- text with one VTIMEZONE, as the client set it, or empty. Floating times and all-day dates
-- of the calendar's events are read in it. Kept in step with ../postgres/0030_calendar_timezone.sql.
ALTER TABLE dav_collections ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
