-- The database role FreeRADIUS connects as: it reads the RADIUS views (the hotspots'
-- secrets among them) and writes accounting sessions, nothing else. Run once as the
-- owner of InfoCity's database, after the migrations; set the password out of band.
CREATE ROLE freeradius LOGIN;
GRANT SELECT ON radius_clients, radius_authorized, radius_reply TO freeradius;
GRANT EXECUTE ON FUNCTION radius_reply_for(text, text) TO freeradius;
GRANT SELECT, INSERT, UPDATE ON wifi_sessions TO freeradius;
GRANT USAGE ON SEQUENCE wifi_sessions_id_seq TO freeradius;
