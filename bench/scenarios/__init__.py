"""Every benchmark scenario, in the order `make bench` runs them.

To add one (earn purchases, billing reports...): write
`bench/scenarios/<name>.py` exposing `SCENARIO = Scenario(name, services, run)` and list it here.
"""

from bench.scenario import Scenario
from bench.scenarios import accounts, catalog_search, redeem_orders

ALL: tuple[Scenario, ...] = (accounts.SCENARIO, redeem_orders.SCENARIO, catalog_search.SCENARIO)
