"""Optional online geocoders, asked after the local sources: ArcGIS, US Census, Nominatim, Radar.

One module per provider, what they share in ``base``, the configured chain in ``chain``
(``online_providers(settings)``). They depend on ``geocoding.provider`` (the protocol), never on the
locator: the locator imports them, not the other way round.
"""
