"""Great-circle distances and the standard geolocation scores (no Qt)."""
import numpy as np

EARTH_RADIUS_KM = 6371.0088
# PlaNet / GeoEstimation scales (km; 1 km is "street") and finer city scales (m)
KM_THRESHOLDS = (1, 25, 200, 750, 2500)
M_THRESHOLDS = (100, 250, 500)


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km (broadcasting)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float))
                              for v in (lat1, lon1, lat2, lon2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def error_metrics(errors_m: np.ndarray) -> dict:
    """Mean and median error (m) and the share of photos within each threshold."""
    errors_m = np.asarray(errors_m, dtype=float)
    errors_m = errors_m[np.isfinite(errors_m)]
    if not len(errors_m):
        return {}
    scores = {"photos": int(len(errors_m)), "mean error (m)": float(errors_m.mean()),
              "median error (m)": float(np.median(errors_m))}
    for m in M_THRESHOLDS:
        scores[f"within {m} m"] = float((errors_m <= m).mean())
    for km in KM_THRESHOLDS:
        scores[f"within {km} km"] = float((errors_m <= km * 1000).mean())
    return scores
