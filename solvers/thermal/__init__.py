"""Cold-chain thermal and product-quality models (arrays in, arrays out).

* :mod:`.model` — two-node (air / product) reefer compartment along a route
  with walls, door openings, a capacity-limited unit and unloading
  (:func:`simulate_compartment`, batched :func:`simulate_routes`); an ice-pack
  insulated box on an unrefrigerated vehicle (:func:`simulate_insulated_box`);
  the planner's derived proxy limits (:func:`max_route_minutes`).
* :mod:`.quality` — first-order Q10 quality decay, shelf life, zone
  specifications and the DOMAIN.md §2.4 product classes.
* :mod:`.route` — the glue to one trip's zone, shared by the planner and the
  independent checker: compartment parameters from body numbers and a share of
  the body, a zone's trace with hand-over temperatures and minutes above range
  (reefer or insulated box), quality and remaining shelf life per product class.

No pydantic, no ``fulfil`` imports.
"""

from .model import (
    BoxParams,
    BoxResult,
    CompartmentParams,
    CompartmentResult,
    ProxyLimit,
    box_hold_hours,
    chilled_compartment,
    door_minutes,
    frozen_compartment,
    max_route_minutes,
    proxy_limit_table,
    service_minutes,
    simulate_compartment,
    simulate_insulated_box,
    simulate_routes,
)
from .quality import (
    PRODUCT_CLASSES,
    ZONES,
    ProductClass,
    ZoneSpec,
    in_specification,
    k_ref,
    quality_after,
    quality_trace,
    rate_factor,
    remaining_shelf_life_h,
    shelf_life_h,
)

__all__ = [
    "BoxParams",
    "BoxResult",
    "CompartmentParams",
    "CompartmentResult",
    "ProxyLimit",
    "box_hold_hours",
    "chilled_compartment",
    "door_minutes",
    "frozen_compartment",
    "max_route_minutes",
    "proxy_limit_table",
    "service_minutes",
    "simulate_compartment",
    "simulate_insulated_box",
    "simulate_routes",
    "PRODUCT_CLASSES",
    "ZONES",
    "ProductClass",
    "ZoneSpec",
    "in_specification",
    "k_ref",
    "quality_after",
    "quality_trace",
    "rate_factor",
    "remaining_shelf_life_h",
    "shelf_life_h",
]
