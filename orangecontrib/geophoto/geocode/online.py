"""Online reverse geocoding with Nominatim (OpenStreetMap), off by default: it sends
coordinates to a server. Follows Nominatim's usage policy: at most one request per second,
an identifying user agent, a cache so no point is asked twice, and retries with back-off
when the server says it is busy (429/503).

A network that is down (no name resolution, refused or stalled connections) is not
retried: it raises :class:`NominatimUnreachable` after one try, within ``timeout``
seconds, with a one-line message that names the server but never the coordinates.
The server is ``GEOPHOTO_NOMINATIM_URL`` when set (e.g. a local Nominatim), else OSM's.
"""
import os
import time
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import urlsplit

USER_AGENT = "Orange3-GeoPhoto/0.1 (https://github.com/biolab/orange3; reverse geocoding)"
DEFAULT_URL = "https://nominatim.openstreetmap.org"
URL_VARIABLE = "GEOPHOTO_NOMINATIM_URL"
MIN_DELAY_S = 1.0
RETRIES = 4
TIMEOUT_S = 5.0


class NominatimUnreachable(ConnectionError):
    """The Nominatim server cannot be reached (no network, wrong address, no answer);
    ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def nominatim_url(url: Optional[str] = None) -> str:
    """The server asked: ``url``, else $GEOPHOTO_NOMINATIM_URL, else OpenStreetMap's."""
    return (url or os.environ.get(URL_VARIABLE) or DEFAULT_URL).rstrip("/")


class OnlineGeocoder:
    """``lookup(lat, lon) -> dict`` of our columns, via geopy's Nominatim client."""

    def __init__(self, language: Optional[str] = None, url: Optional[str] = None,
                 min_delay: float = MIN_DELAY_S, timeout: float = TIMEOUT_S,
                 sleep: Callable[[float], None] = time.sleep,
                 domain: Optional[str] = None, scheme: str = "https"):
        from geopy.adapters import RequestsAdapter
        from geopy.geocoders import Nominatim
        self.url = nominatim_url(url or (domain and f"{scheme}://{domain}"))
        parts = urlsplit(self.url if "//" in self.url else "https://" + self.url)
        self.client = Nominatim(
            user_agent=USER_AGENT, domain=parts.netloc + parts.path, scheme=parts.scheme,
            timeout=timeout,
            # one connection attempt: the retries below are for a server that answers
            adapter_factory=lambda proxies, ssl_context: RequestsAdapter(
                proxies=proxies, ssl_context=ssl_context, max_retries=0))
        self.language = language
        self.min_delay = min_delay
        self.sleep = sleep
        self.cache: Dict[Tuple[float, float], dict] = {}
        self._last = -float("inf")
        self._resolved = False
        self.requests = 0

    def _wait_turn(self):
        wait = self._last + self.min_delay - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last = time.monotonic()

    def _resolve_host(self):
        """Look the server's name up once, within ``timeout``: a request's timeout does
        not bound name resolution, which can hang for long with an unreachable DNS."""
        import socket
        import threading
        host = urlsplit(self.url).hostname or ""
        outcome = []

        def resolve():
            try:
                outcome.append(bool(socket.getaddrinfo(host, None)))
            except OSError:
                outcome.append(False)

        worker = threading.Thread(target=resolve, daemon=True)
        worker.start()
        worker.join(self.client.timeout)
        if not outcome or not outcome[0]:
            reason = "host name not found" if outcome else \
                f"host name not resolved within {self.client.timeout:g} s"
            raise NominatimUnreachable(f"Nominatim unreachable at {self.url}: {reason}",
                                       reason)
        self._resolved = True

    def lookup(self, lat: float, lon: float) -> dict:
        key = (round(lat, 6), round(lon, 6))
        if key in self.cache:
            return self.cache[key]
        if not self._resolved:
            self._resolve_host()
        from geopy.exc import GeocoderRateLimited, GeocoderUnavailable
        delay = self.min_delay
        for attempt in range(RETRIES + 1):
            self._wait_turn()
            self.requests += 1
            try:
                location = self._reverse(lat, lon)
                break
            except (GeocoderRateLimited, GeocoderUnavailable) as ex:
                if attempt == RETRIES:
                    raise NominatimUnreachable(
                        f"Nominatim at {self.url} stayed busy after {RETRIES} retries",
                        "busy") from None
                retry_after = getattr(ex, "retry_after", None)
                delay = max(delay * 2, retry_after or 0)
                self.sleep(delay)
        result = _columns(location.raw if location is not None else {})
        self.cache[key] = result
        return result

    def _reverse(self, lat, lon):
        """One request; a failure below HTTP (DNS, refused, timed out) is unreachable."""
        from geopy.adapters import AdapterHTTPError
        from geopy.exc import (
            GeocoderRateLimited, GeocoderServiceError, GeocoderTimedOut, GeocoderUnavailable,
        )
        try:
            return self.client.reverse((lat, lon), language=self.language or False,
                                       exactly_one=True, zoom=14)
        except GeocoderRateLimited:  # a 429 answer: busy, retry
            raise
        except GeocoderUnavailable as ex:
            if isinstance(ex.__cause__, AdapterHTTPError):  # a 503 answer: busy, retry
                raise
            reason = _reason(ex.__context__ or ex)
            raise NominatimUnreachable(f"Nominatim unreachable at {self.url}: {reason}",
                                       reason) from None
        except GeocoderTimedOut:
            reason = f"no answer within {self.client.timeout:g} s"
            raise NominatimUnreachable(f"Nominatim unreachable at {self.url}: {reason}",
                                       reason) from None
        except GeocoderServiceError as ex:
            # geopy's messages quote the request URL, which holds the coordinates
            reason = f"the server failed ({type(ex).__name__})"
            raise NominatimUnreachable(f"Nominatim at {self.url}: {reason}",
                                       reason) from None


def _reason(error: BaseException) -> str:
    """A short cause without the request URL (it holds the coordinates)."""
    text = repr(error)
    for marker, reason in (("NameResolution", "host name not found"),
                           ("Name or service not known", "host name not found"),
                           ("getaddrinfo", "host name not found"),
                           ("Connection refused", "connection refused"),
                           ("timed out", "timed out"),
                           ("Network is unreachable", "no network"),
                           ("SSL", "secure connection failed")):
        if marker in text:
            return reason
    return "connection failed"


def _columns(raw: dict) -> dict:
    address = raw.get("address", {})
    place = next((address[k] for k in ("city", "town", "village", "hamlet", "suburb",
                                        "municipality") if k in address), "")
    return {"country": address.get("country", ""),
            "country code": address.get("country_code", "").upper(),
            "admin1": address.get("state", address.get("region", "")),
            "admin2": address.get("county", address.get("province", "")),
            "place": place}
