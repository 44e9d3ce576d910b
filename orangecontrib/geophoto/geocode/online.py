"""Online reverse geocoding with Nominatim (OpenStreetMap), off by default: it sends
coordinates to a server. Follows Nominatim's usage policy: at most one request per second,
an identifying user agent, a cache so no point is asked twice, and retries with back-off
when the server says it is busy (429/503).
"""
import time
from typing import Callable, Dict, Optional, Tuple

USER_AGENT = "Orange3-GeoPhoto/0.1 (https://github.com/biolab/orange3; reverse geocoding)"
MIN_DELAY_S = 1.0
RETRIES = 4


class OnlineGeocoder:
    """``lookup(lat, lon) -> dict`` of our columns, via geopy's Nominatim client."""

    def __init__(self, language: Optional[str] = None, domain: str = "nominatim.openstreetmap.org",
                 scheme: str = "https", min_delay: float = MIN_DELAY_S, timeout: float = 10,
                 sleep: Callable[[float], None] = time.sleep):
        from geopy.geocoders import Nominatim
        self.client = Nominatim(user_agent=USER_AGENT, domain=domain, scheme=scheme,
                                timeout=timeout)
        self.language = language
        self.min_delay = min_delay
        self.sleep = sleep
        self.cache: Dict[Tuple[float, float], dict] = {}
        self._last = -float("inf")
        self.requests = 0

    def _wait_turn(self):
        wait = self._last + self.min_delay - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()

    def lookup(self, lat: float, lon: float) -> dict:
        key = (round(lat, 6), round(lon, 6))
        if key in self.cache:
            return self.cache[key]
        from geopy.exc import GeocoderRateLimited, GeocoderServiceError, GeocoderUnavailable
        delay = self.min_delay
        for attempt in range(RETRIES + 1):
            self._wait_turn()
            self.requests += 1
            try:
                location = self.client.reverse((lat, lon), language=self.language or False,
                                               exactly_one=True, zoom=14)
                break
            except (GeocoderRateLimited, GeocoderUnavailable) as ex:
                if attempt == RETRIES:
                    raise
                retry_after = getattr(ex, "retry_after", None)
                delay = max(delay * 2, retry_after or 0)
                self.sleep(delay)
            except GeocoderServiceError:
                raise
        result = _columns(location.raw if location is not None else {})
        self.cache[key] = result
        return result


def _columns(raw: dict) -> dict:
    address = raw.get("address", {})
    place = next((address[k] for k in ("city", "town", "village", "hamlet", "suburb",
                                        "municipality") if k in address), "")
    return {"country": address.get("country", ""),
            "country code": address.get("country_code", "").upper(),
            "admin1": address.get("state", address.get("region", "")),
            "admin2": address.get("county", address.get("province", "")),
            "place": place}
