"""connectivity: RADIUS authorization in one look-up

Revision ID: 0033_wifi_radius_one_lookup
Revises: 0032_wifi_statistics_roll_up
Create Date: 2026-12-01 10:10:00.000000

FreeRADIUS asked two functions per Access-Request: radius_check_for (the Auth-Type) and
radius_reply_for, which itself read the device's bindings twice (the longest binding's
id, then its replies). The virtual server now sets the Auth-Type itself once the device
is found, and asks only radius_reply_for, which reads the bindings once: the view
radius_reply gains the binding's end, and the function keeps the rows of the binding
that lasts longest (FETCH FIRST … WITH TIES). One round trip and one index look-up a
request instead of two and three (docs/connectivity.md). PostgreSQL only, as the views.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0033_wifi_radius_one_lookup"
down_revision: str | None = "0032_wifi_statistics_roll_up"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Session-Timeout: the network's session, or less when the binding ends sooner;
# bandwidth in bits a second (WISPr). The binding's end is the last column, so that the
# view can be replaced in place.
RADIUS_REPLY = """
CREATE OR REPLACE VIEW radius_reply AS
SELECT a.id, a.username, a.nas_identifier, r.attribute, text '=' AS op, r.value{end}
FROM radius_authorized AS a
CROSS JOIN LATERAL (VALUES
  ('Session-Timeout', LEAST(a.session_seconds::bigint,
     GREATEST(1, floor(extract(epoch FROM a.expires_at - now()))::bigint))::text),
  ('WISPr-Bandwidth-Max-Down', (a.bandwidth_down_kbps::bigint * 1000)::text),
  ('WISPr-Bandwidth-Max-Up', (a.bandwidth_up_kbps::bigint * 1000)::text)
) AS r(attribute, value)
"""
# The replies of the binding that lasts longest, when roaming gives several: the rows
# that tie with the first on (end, id) are that binding's three.
RADIUS_REPLY_FOR = """
CREATE OR REPLACE FUNCTION radius_reply_for(mac text, nas text)
RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT r.id, r.username::text, r.attribute, r.value, r.op FROM radius_reply AS r
    WHERE r.username = mac AND r.nas_identifier = nas
    ORDER BY r.expires_at DESC, r.id
    FETCH FIRST 1 ROWS WITH TIES;
END
$$
"""

# What 0022 and 0028 made, for the downgrade.
RADIUS_CHECK = """
CREATE VIEW radius_check AS
SELECT id, username, nas_identifier, text 'Auth-Type' AS attribute, text ':=' AS op,
       text 'Accept' AS value, expires_at
FROM radius_authorized
"""
RADIUS_CHECK_FOR = """
CREATE FUNCTION radius_check_for(mac text, nas text)
RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT c.id, c.username::text, c.attribute, c.value, c.op FROM radius_check AS c
    WHERE c.username = mac AND c.nas_identifier = nas
    ORDER BY c.expires_at DESC LIMIT 1;
END
$$
"""
RADIUS_REPLY_FOR_TWO_READS = """
CREATE OR REPLACE FUNCTION radius_reply_for(mac text, nas text)
RETURNS TABLE (id bigint, username text, attribute text, value text, op text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
    SELECT r.id, r.username::text, r.attribute, r.value, r.op FROM radius_reply AS r
    WHERE r.id = (SELECT a.id FROM radius_authorized AS a
                  WHERE a.username = mac AND a.nas_identifier = nas
                  ORDER BY a.expires_at DESC LIMIT 1)
      AND r.username = mac AND r.nas_identifier = nas;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION radius_check_for(text, text)")
        op.execute("DROP VIEW radius_check")
        op.execute(RADIUS_REPLY.format(end=", a.expires_at"))
        op.execute(RADIUS_REPLY_FOR)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION radius_reply_for(text, text)")
        op.execute("DROP VIEW radius_reply")
        op.execute(RADIUS_REPLY.format(end="").replace("CREATE OR REPLACE", "CREATE"))
        op.execute(RADIUS_REPLY_FOR_TWO_READS)
        op.execute(RADIUS_CHECK)
        op.execute(RADIUS_CHECK_FOR)
