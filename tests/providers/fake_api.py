#!/usr/bin/python3
"""A loopback stand-in for the carbon APIs chase talks to, for tests only.

It answers in the real formats of Electricity Maps v3, WattTime v3 and the UK Carbon Intensity API, and fails on
demand. The first path segment is the behaviour ("mode") so that one server serves many tests at once:
    http://127.0.0.1:PORT/ok/v3/carbon-intensity/history?zone=DE
Modes: ok, e401, e403, e404, e500, r429 (429 with Retry-After: 1 once per mode+path, then ok), a429 (always 429,
Retry-After: 1), long429 (429, Retry-After: 3600), hang (answers after 30 s), trunc (JSON cut in half), short
(Content-Length promises more than is sent), malformed, nulls (null and negative values mixed with good ones),
negative (all values negative), units (wrong units), empty (no points), huge (a 5 MiB body), echo401 (401 whose body
echoes the credentials it got), wtexpire (WattTime: the first token is refused once as expired), noforecast
(forecast endpoints answer 403). Any mode may carry a suffix "-TAG" to get its own counters.
GET /_stats/MODE answers {"count": N, "paths": [...], "auth": [...], "agents": [...]}.
Values follow known curves of the time so tests can check them:
    Electricity Maps  300 + 100 sin(2 pi t / 86400) g/kWh
    WattTime          900 + 200 sin(2 pi t / 86400) lbs/MWh
    UK actual         200 + 50 sin(2 pi t / 86400), forecast = actual + 10
The port is printed on stdout as "PORT N" once the server listens.
"Now" (which hour is the latest, which half-hours are measured) is the wall clock, or the fixed UTC second in the
environment variable FAKE_API_NOW: a test that passes the same instant to chase cannot straddle an hour boundary
between its own clock reading and the server's.
"""
import base64
import json
import math
import os
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

USER, PASSWORD = "alice", "s3cret-pw"
LOCK = threading.Lock()
STATS = {}
TOKENS = {"n": 0}
HUGE = b'{"pad": "' + b"x" * (5 << 20) + b'"}'  # built once: building it per request is slow on a busy machine
FIXED_NOW = int(os.environ["FAKE_API_NOW"]) if os.environ.get("FAKE_API_NOW") else None


def em_ci(t):
    return 300 + 100 * math.sin(2 * math.pi * t / 86400)


def wt_lbs(t):
    return 900 + 200 * math.sin(2 * math.pi * t / 86400)


def uk_actual(t):
    return 200 + 50 * math.sin(2 * math.pi * t / 86400)


def iso_ms(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_offset(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def iso_min(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def parse_time(s):
    s = s.replace("Z", "+00:00")
    if len(s) == len("2024-01-01T00:00+00:00"):
        s = s[:16] + ":00" + s[16:]
    return int(datetime.fromisoformat(s).timestamp())


def value_for(mode, good, t, i):
    if mode.startswith("nulls"):
        return None if i % 3 == 1 else (-5 if i % 3 == 2 else good)
    if mode.startswith("negative"):
        return -abs(good)
    return good


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, headers=None):
        body = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(body, str):
            body = body.encode()
        mode = self.mode
        if code == 200 and mode.startswith("trunc"):
            body = body[: len(body) // 2]
        if code == 200 and mode.startswith("malformed"):
            body = b'{"zone": "DE", "carbonIntensity": , "data": [}'
        length = len(body)
        if code == 200 and mode.startswith("short"):
            length = len(body) + 1000
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if mode.startswith("short"):
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (size cap, timeout): expected in these tests
        if mode.startswith("short"):
            self.close_connection = True

    def do_GET(self):
        u = urlparse(self.path)
        parts = u.path.split("/")
        # parts: ['', mode, ...]
        if len(parts) < 2:
            self.mode = "ok"
            return self.send_json(404, {"error": "no mode"})
        if parts[1] == "_stats":
            self.mode = "ok"
            with LOCK:
                s = STATS.get(parts[2] if len(parts) > 2 else "", {"count": 0, "paths": [], "auth": [], "agents": []})
                return self.send_json(200, s)
        self.mode = mode = parts[1]
        path = "/" + "/".join(parts[2:])
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        auth = self.headers.get("auth-token") or self.headers.get("Authorization") or ""
        with LOCK:
            s = STATS.setdefault(mode, {"count": 0, "paths": [], "auth": [], "agents": []})
            s["count"] += 1
            s["paths"].append(path + ("?" + u.query if u.query else ""))
            s["auth"].append(auth)
            s["agents"].append(self.headers.get("User-Agent", ""))
            first = s["paths"].count(path + ("?" + u.query if u.query else "")) == 1
        base = mode.split("-")[0]
        if base == "hang":
            time.sleep(30)
        if base == "e401":
            return self.send_json(401, {"error": "Unauthorized"})
        if base == "echo401":
            return self.send_json(401, {"error": "bad credentials: %s" % auth})
        if base == "e403":
            return self.send_json(403, {"error": "Forbidden"})
        if base == "e404":
            return self.send_json(404, {"error": "Not found"})
        if base == "e500":
            return self.send_json(500, "<html>Internal Server Error</html>")
        if base == "a429" or (base == "r429" and first):
            return self.send_json(429, {"error": "Too many requests"}, {"Retry-After": "1"})
        if base == "long429":
            return self.send_json(429, {"error": "Too many requests"}, {"Retry-After": "3600"})
        if base == "huge":
            return self.send_json(200, HUGE)
        now = FIXED_NOW if FIXED_NOW is not None else int(time.time())
        if path.startswith("/v3/carbon-intensity/"):
            return self.electricitymaps(path, q, now, auth)
        if path == "/login" or path.startswith("/v3/"):
            return self.watttime(path, q, now)
        if path.startswith("/intensity") or path.startswith("/regional"):
            return self.ukci(path, now)
        return self.send_json(404, {"error": "unknown path " + path})

    # ---- Electricity Maps v3 ----
    def em_point(self, zone, t, i, q):
        v = value_for(self.mode, round(em_ci(t)), t, i)
        return {"zone": zone, "carbonIntensity": v, "datetime": iso_ms(t), "updatedAt": iso_ms(t + 600),
                "createdAt": iso_ms(t - 86400), "emissionFactorType": q.get("emissionFactorType", "lifecycle"),
                "isEstimated": i % 5 == 0, "estimationMethod": "TIME_SLICER_AVERAGE" if i % 5 == 0 else None}

    def electricitymaps(self, path, q, now, auth):
        if auth != "test-token-123":
            return self.send_json(401, {"error": "Unauthorized: invalid auth-token"})
        zone = q.get("zone") or ("DE" if "lat" in q else None)
        if not zone:
            return self.send_json(400, {"error": "zone or lat/lon required"})
        hour = now - now % 3600
        base = self.mode.split("-")[0]
        if path.endswith("/latest"):
            if base == "empty":
                return self.send_json(200, {"zone": zone})
            p = self.em_point(zone, hour, 0, q)
            if base == "units":
                p["unit"] = "lbs/MWh"
            return self.send_json(200, p)
        if path.endswith("/history"):
            pts = [] if base == "empty" else [self.em_point(zone, hour - 3600 * (23 - i), i, q) for i in range(24)]
            body = {"zone": zone, "history": pts}
            if base == "units":
                body["unit"] = "lbs/MWh"
            return self.send_json(200, body)
        if path.endswith("/forecast"):
            if base == "noforecast":
                return self.send_json(403, {"error": "Forecast is not available with this plan"})
            pts = [] if base == "empty" else [{"carbonIntensity": value_for(self.mode, round(em_ci(hour + 3600 * i)),
                                                                             0, i),
                                                "datetime": iso_ms(hour + 3600 * i)} for i in range(25)]
            return self.send_json(200, {"zone": zone, "forecast": pts, "updatedAt": iso_ms(now)})
        return self.send_json(404, {"error": "unknown endpoint"})

    # ---- WattTime v3 ----
    def watttime(self, path, q, now):
        base = self.mode.split("-")[0]
        if path == "/login":
            h = self.headers.get("Authorization", "")
            ok = h.startswith("Basic ") and base64.b64decode(h[6:]).decode() == USER + ":" + PASSWORD
            if not ok:
                return self.send_json(403, {"error": "invalid credentials"})
            with LOCK:
                TOKENS["n"] += 1
                tok = "tok-%d" % TOKENS["n"]
                TOKENS[self.mode] = tok
            return self.send_json(200, {"token": tok})
        with LOCK:
            tok = TOKENS.get(self.mode)
            st = STATS[self.mode]
            refused = st.setdefault("refused", 0)
        bearer = self.headers.get("Authorization", "")
        if not tok or bearer != "Bearer " + tok:
            return self.send_json(401, {"error": "invalid or expired token"})
        if base == "wtexpire" and refused == 0:
            with LOCK:
                st["refused"] = 1
            return self.send_json(401, {"error": "token expired"})
        if path == "/v3/region-from-loc":
            return self.send_json(200, {"region": "CAISO_NORTH", "region_full_name": "Northern California",
                                        "signal_type": q.get("signal_type", "co2_moer")})
        region = q.get("region", "")
        meta = {"region": region, "signal_type": q.get("signal_type", "co2_moer"), "model": {"date": "2023-03-01"},
                "units": "lbs_co2_per_mwh", "data_point_period_seconds": 300, "warnings": []}
        if base == "units":
            meta["units"] = "percentile"
        five = now - now % 300
        if path == "/v3/signal-index":
            return self.send_json(200, {"data": [{"point_time": iso_offset(five), "value": 64.0}],
                                        "meta": dict(meta, units="percentile")})
        if path == "/v3/historical":
            if base == "noplan":
                return self.send_json(403, {"error": "Your subscription does not include historical data"})
            t0, t1 = parse_time(q["start"]), parse_time(q["end"])
            t = t0 - t0 % 300
            pts = []
            i = 0
            while t <= t1 and base != "empty":
                v = value_for(self.mode, round(wt_lbs(t), 1), t, i)
                pts.append({"point_time": iso_offset(t), "value": v})
                t += 300
                i += 1
            return self.send_json(200, {"data": pts, "meta": meta})
        if path == "/v3/forecast":
            if base == "noforecast":
                return self.send_json(403, {"error": "no forecast access"})
            h = int(q.get("horizon_hours", "24"))
            pts = [] if base == "empty" else [{"point_time": iso_offset(five + 300 * i),
                                                "value": round(wt_lbs(five + 300 * i), 1)} for i in range(h * 12)]
            meta.update({"generated_at_period_seconds": 300, "generated_at": iso_offset(five)})
            return self.send_json(200, {"data": pts, "meta": meta})
        return self.send_json(404, {"error": "unknown endpoint"})

    # ---- UK Carbon Intensity ----
    def uk_period(self, t, now, regional, i):
        a = round(uk_actual(t))
        f = a + 10
        f = value_for(self.mode, f, t, i)
        intensity = {"forecast": f, "index": "moderate"}
        if not regional:
            measured = t + 1800 <= now
            intensity["actual"] = value_for(self.mode, a, t, i) if measured else None
        p = {"from": iso_min(t), "to": iso_min(t + 1800), "intensity": intensity}
        if regional:
            p["generationmix"] = [{"fuel": "gas", "perc": 40.1}, {"fuel": "wind", "perc": 59.9}]
        return p

    def ukci(self, path, now):
        base = self.mode.split("-")[0]
        half = now - now % 1800
        seg = path.strip("/").split("/")
        regional = seg[0] == "regional"
        where = None
        if regional:
            if "regionid" in seg:
                where = ("regionid", int(seg[seg.index("regionid") + 1]))
            elif "postcode" in seg:
                where = ("postcode", seg[seg.index("postcode") + 1])
            else:
                return self.send_json(400, {"error": {"code": "400 Bad Request", "message": "no region"}})
        rest = seg[2:] if regional else seg[1:]
        if regional and seg[1] != "intensity":
            rest = []
        rest = [r for r in rest if r not in ("regionid", "postcode") and (where is None or r != str(where[1]))]
        if not rest:
            times = [half]
        elif rest[1] == "fw48h":
            t0 = parse_time(rest[0])
            t0 -= t0 % 1800
            times = [t0 + 1800 * i for i in range(96)]
        else:
            t0, t1 = parse_time(rest[0]), parse_time(rest[1])
            t0 -= t0 % 1800
            times = list(range(t0, t1 + 1, 1800))
        if base == "empty":
            times = []
        periods = [self.uk_period(t, now, regional, i) for i, t in enumerate(times)]
        if not regional:
            return self.send_json(200, {"data": periods})
        reg = {"regionid": where[1] if where[0] == "regionid" else 6, "dnoregion": "UKPN London",
               "shortname": "London", "data": periods}
        if where[0] == "postcode":
            reg["postcode"] = where[1]
        if rest:
            return self.send_json(200, {"data": reg})  # the from/to forms answer an object
        return self.send_json(200, {"data": [reg]})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
