"""sync/evidence.py: metres_beyond settles a distance clearly inside its limit on the sphere and gives the
ellipsoid's figure otherwise: the same answers as measuring every distance on the ellipsoid."""
import random

import pytest
from geopy.distance import great_circle

from sync.evidence import SPHERE_MARGIN, metres, metres_beyond


def points(seed: int, count: int, spread: float, latitudes=(-89.0, 89.0)):
    rng = random.Random(seed)
    for _ in range(count):
        lat, lon = rng.uniform(*latitudes), rng.uniform(-180, 180)
        yield (lat, lon), (max(-89.9, min(89.9, lat + rng.uniform(-spread, spread))), lon + rng.uniform(-spread, spread))


def test_the_ellipsoid_is_never_more_than_the_margin_over_the_sphere():
    ratios = [metres(a, b) / great_circle(a, b).meters for a, b in points(1, 5000, 0.05)
              if great_circle(a, b).meters > 1]
    assert max(ratios) < 1.0046 < SPHERE_MARGIN


@pytest.mark.parametrize("limit", [50, 200, 300])
def test_the_answer_is_the_ellipsoids_whatever_the_distance(limit):
    # China's latitudes, distances from the door to a few kilometres, many right at the limit
    checked = near = 0
    for a, b in points(limit, 3000, 1.5 * limit / 111_000, latitudes=(18.0, 54.0)):
        exact = round(metres(a, b))
        assert metres_beyond(a, b, limit) == (exact if exact > limit else None), (a, b)
        checked += 1
        near += abs(exact - limit) <= 0.02 * limit
    assert checked == 3000 and near > 30


def test_on_the_limit_and_just_past_it():
    a = (33.0, 107.0)
    assert metres_beyond(a, a, 200) is None
    for metres_north in (199.6, 200.4, 200.6, 201.0):
        b = (33.0 + metres_north / 110_900, 107.0)
        exact = round(metres(a, b))
        assert metres_beyond(a, b, 200) == (exact if exact > 200 else None)
