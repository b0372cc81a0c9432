#!/usr/bin/env bash
# Make sure what the test suite drives for real is on this machine:
# PostgreSQL binaries (the tests start a throwaway cluster), Chromium (browser tests),
# Kannel with its fake SMSC (the SMS gateway's tests), Mosquitto (the school cards' MQTT
# bridge; the tests start a broker of their own), FreeRADIUS with its PostgreSQL driver
# and radclient (the Wi-Fi's RADIUS tests), ffmpeg and GStreamer's RTSP server (camera
# probes).
# Installs missing ones from Debian's packages when run as root; otherwise says what is missing.
set -euo pipefail

need=()
if [ -z "${INFOCITY_TEST_POSTGRES_URL:-}" ] && ! command -v initdb >/dev/null \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
if ! command -v chromium >/dev/null; then
  need+=(chromium)
fi
if ! command -v bearerbox >/dev/null && [ ! -x /usr/sbin/bearerbox ]; then
  need+=(kannel)
fi
if [ ! -x /usr/lib/kannel/test/fakesmsc ]; then
  need+=(kannel-extras)  # Kannel's test tools: fakesmsc, the fake SMSC's phone side
fi
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  need+=(mosquitto)
fi
if ! command -v freeradius >/dev/null; then
  need+=(freeradius)
fi
if [ ! -e /usr/lib/freeradius/rlm_sql_postgresql.so ]; then
  need+=(freeradius-postgresql)
fi
if ! command -v radclient >/dev/null; then
  need+=(freeradius-utils)
fi
if [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  need+=(fonts-dejavu-core)  # the Cyrillic font of PDF bills
fi
# School cameras: ffmpeg reads frames; GStreamer's RTSP server (driven from the system's
# Python by deploy/rtsp_test_server.py) serves the test streams.
if ! command -v ffmpeg >/dev/null; then
  need+=(ffmpeg)
fi
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null; then
  need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base \
         gstreamer1.0-plugins-good)
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing for the tests: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "Not installed: ${need[*]} — the tests that need them will be skipped with a reason." >&2
fi
