"""Exports of calls for analysts: CSV and GeoJSON (``formats``, pure), a history window read page by
page (``window``), Parquet files (``parquet``, needs the optional ``pyarrow``)."""
