"""A fake of the City of Dallas' GIS services: real HTTP on 127.0.0.1, documented JSON shapes.

- ArcGIS FeatureServer/MapServer layers: ``GET /<layer>/query`` with ``resultOffset`` and
  ``resultRecordCount`` (capped at the layer's ``max_records``, like ``maxRecordCount``), ``f=geojson``
  (a FeatureCollection; ``properties.exceededTransferLimit`` when more are left) or ``f=json``
  (Esri JSON: ``attributes``/``geometry``, top-level ``exceededTransferLimit``), and
  ``returnCountOnly=true`` (``{"count": N}``).
- Socrata resources: ``GET /resource/<id>.json`` with ``$limit``, ``$offset``, ``$order=:id``,
  ``$where`` (recorded, not evaluated), ``$select`` of columns (an unknown one: a 400 naming it, as
  Socrata does) and ``$select=count(*) AS n``.
- A GeocodeServer: ``/GeocodeServer/findAddressCandidates`` answers ``candidates[name]`` for the
  ``SingleLine`` asked, ``/GeocodeServer/geocodeAddresses`` (POST) one location per record.

Faults per path prefix: ``statuses`` (answered first, one per request), ``hang_s`` (a slow
service: the answer comes after that many seconds). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class CityGis:
    layers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # path -> GeoJSON features
    max_records: int = 2
    geojson: bool = True  # False: an older ArcGIS Server that refuses f=geojson (Esri JSON only)
    socrata: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # path -> rows
    candidates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # SingleLine -> candidates
    statuses: dict[str, list[int]] = field(default_factory=dict)
    hang_s: dict[str, float] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def paths(self, prefix: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p.startswith(prefix)]


def _esri(feature: dict[str, Any]) -> dict[str, Any]:
    g = feature.get("geometry") or {}
    if g.get("type") == "Point":
        geometry: dict[str, Any] = {"x": g["coordinates"][0], "y": g["coordinates"][1]}
    elif g.get("type") == "LineString":
        geometry = {"paths": [g["coordinates"]]}
    else:
        geometry = {"rings": g.get("coordinates", [])}
    return {"attributes": feature.get("properties") or {}, "geometry": geometry}


class _Handler(BaseHTTPRequestHandler):
    gis: CityGis

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, path: str) -> bool:
        for prefix, delay in self.gis.hang_s.items():
            if path.startswith(prefix):
                time.sleep(delay)
        for prefix, statuses in self.gis.statuses.items():
            if path.startswith(prefix) and statuses:
                self._send(statuses.pop(0), {"error": "injected"})
                return True
        return False

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self._answer(parts.path, query)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self._answer(urlsplit(self.path).path, form)

    def _answer(self, path: str, query: dict[str, str]) -> None:
        self.gis.requests.append((path, query))
        if self._fault(path):
            return
        layer = path.removesuffix("/query")
        if path.endswith("/query") and layer in self.gis.layers:
            self._layer(self.gis.layers[layer], query)
        elif path in self.gis.socrata:
            self._socrata(self.gis.socrata[path], query)
        elif path.endswith("/findAddressCandidates"):
            found = self.gis.candidates.get(query.get("SingleLine", ""), [])
            self._send(200, {"spatialReference": {"wkid": 4326}, "candidates": found})
        elif path.endswith("/geocodeAddresses"):
            records = json.loads(query["addresses"])["records"]
            locations = []
            for r in records:
                attrs = r["attributes"]
                for c in self.gis.candidates.get(attrs["SingleLine"], [])[:1]:
                    locations.append(
                        {**c, "attributes": {**c.get("attributes", {}), "ResultID": attrs["OBJECTID"]}}
                    )
            self._send(200, {"spatialReference": {"wkid": 4326}, "locations": locations})
        else:
            self._send(404, {"error": {"code": 404, "message": "not found"}})

    def _layer(self, features: list[dict[str, Any]], query: dict[str, str]) -> None:
        if query.get("returnCountOnly") == "true":
            self._send(200, {"count": len(features)})
            return
        offset = int(query.get("resultOffset", "0"))
        count = min(int(query.get("resultRecordCount", str(self.gis.max_records))), self.gis.max_records)
        page = features[offset : offset + count]
        more = offset + count < len(features)
        if query.get("f") == "geojson" and not self.gis.geojson:
            self._send(200, {"error": {"code": 400, "message": "Invalid or missing input parameters."}})
            return
        if query.get("f") == "geojson":
            body: dict[str, Any] = {"type": "FeatureCollection", "features": page}
            if more:
                body["properties"] = {"exceededTransferLimit": True}
        else:
            body = {"features": [_esri(f) for f in page], "exceededTransferLimit": more}
        self._send(200, body)

    def _socrata(self, rows: list[dict[str, Any]], query: dict[str, str]) -> None:
        if query.get("$select", "").startswith("count(*)"):
            self._send(200, [{"n": str(len(rows))}])
            return
        offset, limit = int(query.get("$offset", "0")), int(query.get("$limit", "1000"))
        page = rows[offset : offset + limit]
        if "$select" in query:
            columns = query["$select"].split(",")
            known = {k for r in rows for k in r}
            unknown = [c for c in columns if c not in known]
            if unknown:
                self._send(
                    400,
                    {"errorCode": "query.soql.no-such-column", "message": f"No such column: {unknown[0]}"},
                )
                return
            page = [{c: r[c] for c in columns if c in r} for r in page]
        self._send(200, page)


@contextmanager
def serve(gis: CityGis) -> Iterator[CityGis]:
    handler = type("BoundHandler", (_Handler,), {"gis": gis})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    gis.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield gis
    finally:
        httpd.shutdown()
        httpd.server_close()
